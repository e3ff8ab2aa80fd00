/* A program that uses the installed library the way a user would. */
#include <locket.h>
#include <stdio.h>

int main(int argc, char **argv)
{
	locket_t *lock;
	int rc;
	if (argc != 2)
		return 2;
	rc = locket_new(&lock, argv[1], NULL);
	if (rc == LOCKET_OK)
		rc = locket_acquire(lock, 1000, 0);
	if (rc == LOCKET_OK)
		rc = locket_release(lock);
	locket_free(lock);
	printf("%s %s\n", locket_version(), locket_error_name(rc));
	return rc == LOCKET_OK ? 0 : 1;
}
