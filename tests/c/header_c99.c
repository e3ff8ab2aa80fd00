/* locket.h compiles alone as strict C99. */
#include "locket.h"
int locket_header_c99_probe(void);
int locket_header_c99_probe(void)
{
	locket_options o = LOCKET_OPTIONS_INIT;
	return (int)o.version + LOCKET_OK;
}
