# cmake -DDIR=... -P prepare_noaccess.cmake: files for win.access_denied_fails_at_once,
# which a Windows program cannot make: mode 000 (no access) and mode 0444.
if(EXISTS ${DIR})
  execute_process(COMMAND chmod -R u+rwx ${DIR})
  file(REMOVE_RECURSE ${DIR})
endif()
file(MAKE_DIRECTORY ${DIR}/noaccess-dir)
file(WRITE ${DIR}/noaccess "")
file(WRITE ${DIR}/readonly "")
execute_process(COMMAND chmod 000 ${DIR}/noaccess ${DIR}/noaccess-dir COMMAND_ERROR_IS_FATAL ANY)
execute_process(COMMAND chmod 0444 ${DIR}/readonly COMMAND_ERROR_IS_FATAL ANY)
