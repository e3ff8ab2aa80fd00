# One way to run SWIG, for every binding (Python, Lua, the Windows Python):
# a custom command that writes the wrapper's C file (and, with OUTDIR, the
# language's own module: Python's shadow _core.py), rerun when an interface
# file or a public header changes.
#
#   locket_swig(<language> <interface.i> <wrapper.c>
#               [OUTDIR <dir>] [OPTIONS <swig options>...] [DEPENDS <more .i files>...]
#               [BYPRODUCTS <files written in OUTDIR>...])
include_guard(GLOBAL)

function(locket_swig language interface wrapper)
  cmake_parse_arguments(arg "" "OUTDIR" "OPTIONS;DEPENDS;BYPRODUCTS" ${ARGN})
  get_filename_component(wrapper_dir "${wrapper}" DIRECTORY)
  set(outdir_option "")
  set(dirs "${wrapper_dir}")
  if(arg_OUTDIR)
    set(outdir_option -outdir "${arg_OUTDIR}")
    list(APPEND dirs "${arg_OUTDIR}")
  endif()
  add_custom_command(OUTPUT "${wrapper}" ${arg_BYPRODUCTS}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${dirs}
    COMMAND ${SWIG_EXECUTABLE} -${language} ${arg_OPTIONS} -I${PROJECT_SOURCE_DIR}/include
            ${outdir_option} -o "${wrapper}" "${interface}"
    DEPENDS "${interface}" ${arg_DEPENDS} ${PROJECT_SOURCE_DIR}/bindings/swig/locket.i
            ${PROJECT_SOURCE_DIR}/include/locket.h ${PROJECT_SOURCE_DIR}/include/locket_errors.h
    COMMENT "SWIG (${language}): ${interface}" VERBATIM)
endfunction()
