/* check_main.c — the main() every Check unit test here links: runs the file's unit_suite()
 * (check_main.h); exit 0 when every test passed, 1 otherwise. CK_FORK and CK_RUN_CASE apply as
 * Check documents them. */
#include "check_main.h"

#include <stdlib.h>

int main(void)
{
    SRunner *sr = srunner_create(unit_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
