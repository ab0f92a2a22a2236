/* Placeholder: the net suite is being written. */
#include <check.h>
#include <stdlib.h>
#include <axon.h>

START_TEST(test_placeholder)
{
    ck_assert_int_eq(ax_sock_fd(NULL), -1);
}
END_TEST

Suite *ax_net_suite(void)
{
    Suite *s = suite_create("net");
    TCase *tc = tcase_create("placeholder");
    tcase_add_test(tc, test_placeholder);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(ax_net_suite());
    int failed;
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
