# The Windows .pyd imports only the interpreter's DLL and system DLLs, and no
# Python API that hands a C-runtime object across: the module's C runtime
# (mingw-w64: msvcrt.dll) is not the interpreter's (the UCRT), so errno,
# FILE* and malloc'd memory must not cross (docs/windows.md).
#   cmake -DOBJDUMP=... -DPYD=... -DPYDLL=python312.dll -P check_pyd.cmake
cmake_minimum_required(VERSION 3.20)
execute_process(COMMAND ${OBJDUMP} -p ${PYD} OUTPUT_VARIABLE _dump RESULT_VARIABLE _rc)
if(NOT _rc EQUAL 0)
  message(FATAL_ERROR "objdump -p ${PYD} failed")
endif()
string(REGEX MATCHALL "DLL Name: [^\n]+" _dlls "${_dump}")
set(_allowed "DLL Name: KERNEL32.dll" "DLL Name: msvcrt.dll" "DLL Name: ${PYDLL}")
foreach(_d ${_dlls})
  if(NOT _d IN_LIST _allowed)
    message(FATAL_ERROR "${PYD}: unexpected import (${_d}); allowed: ${_allowed}")
  endif()
endforeach()
if(NOT "DLL Name: ${PYDLL}" IN_LIST _dlls)
  message(FATAL_ERROR "${PYD} does not import ${PYDLL}")
endif()
# Python API that reads or takes CRT state (errno, FILE*, file descriptors, CRT memory).
set(_banned PyErr_SetFromErrno PyErr_SetFromErrnoWithFilename PyErr_SetFromErrnoWithFilenameObject
  PyErr_SetFromErrnoWithFilenameObjects PyFile_FromFd PyObject_AsFileDescriptor PyObject_Print
  PyRun_AnyFile PyRun_AnyFileEx PyRun_AnyFileExFlags PyRun_File PyRun_FileEx PyRun_FileExFlags
  PyRun_SimpleFile PyRun_SimpleFileEx PyRun_SimpleFileExFlags PyRun_InteractiveOne PyRun_InteractiveLoop
  PyMarshal_WriteObjectToFile PyMarshal_ReadObjectFromFile PyMarshal_WriteLongToFile
  PyMarshal_ReadLongFromFile Py_FdIsInteractive PyOS_Readline PyMem_RawFree PyMem_RawMalloc _Py_fopen_obj)
foreach(_f ${_banned})
  if(_dump MATCHES "[ \t]${_f}\n")
    message(FATAL_ERROR "${PYD} imports ${_f}: a C-runtime object would cross to the interpreter")
  endif()
endforeach()
list(LENGTH _dlls _n)
message(STATUS "${PYD}: ${_n} DLLs imported, all allowed")
