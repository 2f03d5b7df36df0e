/* check_main.h — the one main() of the Check unit tests here (check_main.c): each test file
 * exports its tests as unit_suite(), and check_main.c runs them. */
#ifndef SMART_CHECK_MAIN_H
#define SMART_CHECK_MAIN_H

#include <check.h>

/* Defined by each test file: its suite, newly created. The caller owns it (the runner frees
 * it with itself). Called once, on the main thread, before any test runs. */
Suite *unit_suite(void);

#endif
