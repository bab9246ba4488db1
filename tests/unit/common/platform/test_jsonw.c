/* Unit tests for jsonw (JSON writer) and config (environment settings). */
#include "platform/config.h"
#include "platform/jsonw.h"

#include "test_main.h"

#include <check.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

START_TEST(test_nested_commas)
{
    jsonw w;
    jsonw_init(&w);
    jsonw_obj_begin(&w);
    jsonw_key(&w, "a");
    jsonw_int(&w, 1);
    jsonw_key(&w, "list");
    jsonw_arr_begin(&w);
    jsonw_int(&w, 1);
    jsonw_obj_begin(&w);
    jsonw_key(&w, "x");
    jsonw_null(&w);
    jsonw_obj_end(&w);
    jsonw_bool(&w, 0);
    jsonw_arr_end(&w);
    jsonw_key(&w, "empty");
    jsonw_obj_begin(&w);
    jsonw_obj_end(&w);
    jsonw_obj_end(&w);
    ck_assert(jsonw_ok(&w));
    ck_assert_str_eq(w.buf, "{\"a\":1,\"list\":[1,{\"x\":null},false],\"empty\":{}}");
    jsonw_free(&w);
}
END_TEST

/* Plain keys take the one-reservation path, others the escaping one: same output rules. */
START_TEST(test_keys_plain_and_escaped)
{
    jsonw w;
    jsonw_init(&w);
    jsonw_obj_begin(&w);
    jsonw_key(&w, "plain");
    jsonw_int(&w, 1);
    jsonw_key(&w, "q\"uote");
    jsonw_int(&w, 2);
    jsonw_key(&w, "caf\xc3\xa9");
    jsonw_int(&w, 3);
    jsonw_key(&w, "");
    jsonw_int(&w, 4);
    jsonw_obj_end(&w);
    ck_assert(jsonw_ok(&w));
    ck_assert_str_eq(w.buf, "{\"plain\":1,\"q\\\"uote\":2,\"caf\xc3\xa9\":3,\"\":4}");
    jsonw_free(&w);
}
END_TEST

START_TEST(test_escaping_and_invalid_utf8)
{
    jsonw w;
    jsonw_init(&w);
    const char raw[] = "q\"b\\n\n\x01 \xc3\xa9 \xff end";
    jsonw_strn(&w, raw, sizeof raw - 1);
    ck_assert(jsonw_ok(&w));
    /* The output must be valid JSON that decodes to the valid parts. */
    json_error_t jerr;
    json_t *v = json_loads(w.buf, JSON_DECODE_ANY, &jerr);
    ck_assert_msg(v != NULL, "invalid JSON: %s (%s)", w.buf, jerr.text);
    ck_assert_str_eq(json_string_value(v), "q\"b\\n\n\x01 \xc3\xa9 \xef\xbf\xbd end");
    json_decref(v);
    jsonw_free(&w);
}
END_TEST

START_TEST(test_reset_reuses_and_detects_misuse)
{
    jsonw w;
    jsonw_init(&w);
    jsonw_obj_begin(&w);
    ck_assert(!jsonw_ok(&w)); /* unbalanced */
    jsonw_reset(&w);
    jsonw_str(&w, "x");
    ck_assert(jsonw_ok(&w));
    ck_assert_str_eq(w.buf, "\"x\"");
    jsonw_reset(&w);
    jsonw_arr_end(&w); /* close without open */
    ck_assert(!jsonw_ok(&w));
    jsonw_reset(&w);
    for (int i = 0; i < JSONW_DEPTH + 2; i++)
        jsonw_arr_begin(&w);
    ck_assert(!jsonw_ok(&w));
    jsonw_free(&w);
}
END_TEST

static config_var test_vars[] = {
    {.name = "TEST_CFG_PORT",
     .type = CONFIG_INT,
     .def = "8000",
     .min = 1,
     .max = 65535,
     .help = "port"},
    {.name = "TEST_CFG_NAME", .type = CONFIG_STR, .def = "dflt", .help = "name"},
};
#define NVARS (sizeof test_vars / sizeof test_vars[0])

START_TEST(test_config_defaults_and_bounds)
{
    char err[256] = "";
    unsetenv("TEST_CFG_PORT");
    unsetenv("TEST_CFG_NAME");
    ck_assert_int_eq(config_load(test_vars, NVARS, err, sizeof err), 0);
    ck_assert_int_eq(config_int(test_vars, NVARS, "TEST_CFG_PORT"), 8000);
    ck_assert_str_eq(config_str(test_vars, NVARS, "TEST_CFG_NAME"), "dflt");

    setenv("TEST_CFG_PORT", "70000", 1);
    ck_assert_int_eq(config_load(test_vars, NVARS, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "TEST_CFG_PORT"));
    setenv("TEST_CFG_PORT", "80x", 1);
    ck_assert_int_eq(config_load(test_vars, NVARS, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "not an integer"));
    setenv("TEST_CFG_PORT", "9001", 1);
    setenv("TEST_CFG_NAME", "given", 1);
    ck_assert_int_eq(config_load(test_vars, NVARS, err, sizeof err), 0);
    ck_assert_int_eq(config_int(test_vars, NVARS, "TEST_CFG_PORT"), 9001);
    ck_assert_str_eq(config_str(test_vars, NVARS, "TEST_CFG_NAME"), "given");
}
END_TEST

START_TEST(test_config_auto_value)
{
    config_var vars[] = {
        {.name = "TEST_CFG_RF",
         .type = CONFIG_INT,
         .def = "auto",
         .min = 1,
         .max = 100,
         .help = "rf"},
        {.name = "TEST_CFG_N", .type = CONFIG_INT, .def = "3", .min = 1, .max = 100, .help = "n"},
    };
    size_t n = sizeof vars / sizeof vars[0];
    char err[256] = "";
    unsetenv("TEST_CFG_RF");
    unsetenv("TEST_CFG_N");
    ck_assert_int_eq(config_load(vars, n, err, sizeof err), 0);
    ck_assert_int_eq(config_int(vars, n, "TEST_CFG_RF"), CONFIG_AUTO);
    setenv("TEST_CFG_RF", "2", 1);
    ck_assert_int_eq(config_load(vars, n, err, sizeof err), 0);
    ck_assert_int_eq(config_int(vars, n, "TEST_CFG_RF"), 2);
    /* bounds still apply to an explicit number */
    setenv("TEST_CFG_RF", "0", 1);
    ck_assert_int_eq(config_load(vars, n, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "TEST_CFG_RF"));
    setenv("TEST_CFG_RF", "many", 1);
    ck_assert_int_eq(config_load(vars, n, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "not an integer or auto"));
    /* "auto" only where the default is auto */
    setenv("TEST_CFG_RF", "auto", 1);
    setenv("TEST_CFG_N", "auto", 1);
    ck_assert_int_eq(config_load(vars, n, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "TEST_CFG_N"));
    unsetenv("TEST_CFG_RF");
    unsetenv("TEST_CFG_N");
}
END_TEST

static int collect_prop(const char *key, const char *value, void *arg)
{
    if (strcmp(key, "security.protocol") == 0)
        strcpy((char *)arg, value);
    return 0;
}

START_TEST(test_kafka_prop_passthrough)
{
    char got[64] = "";
    setenv("KAFKA_PROP_SECURITY_PROTOCOL", "SASL_SSL", 1);
    ck_assert_int_eq(config_each_kafka_prop(collect_prop, got), 0);
    ck_assert_str_eq(got, "SASL_SSL");
    unsetenv("KAFKA_PROP_SECURITY_PROTOCOL");
}
END_TEST

Suite *test_suite(int *rc)
{
    (void)rc;
    Suite *s = suite_create("jsonw_config");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_nested_commas);
    tcase_add_test(tc, test_keys_plain_and_escaped);
    tcase_add_test(tc, test_escaping_and_invalid_utf8);
    tcase_add_test(tc, test_reset_reuses_and_detects_misuse);
    tcase_add_test(tc, test_config_defaults_and_bounds);
    tcase_add_test(tc, test_config_auto_value);
    tcase_add_test(tc, test_kafka_prop_passthrough);
    suite_add_tcase(s, tc);
    return s;
}
