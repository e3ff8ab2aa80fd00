// locket.h compiles as C++.
#include "locket.h"
int locket_header_cxx_probe();
int locket_header_cxx_probe() { locket_options o = LOCKET_OPTIONS_INIT; return static_cast<int>(o.version) + LOCKET_OK; }
