/*
 * cfg_test - the configuration reader: errors name file, line and key;
 * a valid file round-trips through cfg_print; a bad file changes nothing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cfg.h"
#include "msg.h"
#include "tap.h"

static char *s_name, *s_db;
static long n_port, t_timeout;
static int b_flag;

static struct cfg_param table[] = {
    {"name", CFG_STR, "default-name", 0, 0, &s_name, "a string", 0},
    {"database", CFG_STR, "", 0, 0, &s_db, "a conninfo", 0},
    {"port", CFG_INT, "25", 1, 65535, &n_port, "a number", 0},
    {"timeout", CFG_TIME, "30s", 1, 3600, &t_timeout, "a time", 0},
    {"flag", CFG_BOOL, "no", 0, 0, &b_flag, "a boolean", 0},
    {"old_name", CFG_ALIAS, "name", 0, 0, NULL, NULL, 0},
    {0},
};

static char dir[] = "/tmp/cfg_test.XXXXXX";

/* write_file - a config file with the given content; returns its path */
static char *write_file(const char *name, const char *content)
{
    static char path[4096];
    FILE *fp;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    fp = fopen(path, "w");
    fputs(content, fp);
    fclose(fp);
    return path;
}

/* load_err - load a file expected to fail; returns the error text */
static char *load_err(const char *content)
{
    char *err = NULL, *path = write_file("bad.conf", content);

    if (cfg_load_file(table, path, &err) == 0)
        return NULL;
    return err;
}

/* main - configuration parsing, errors named by file and line */
int main(void)
{
    char *err = NULL, *path, *buf = NULL, *path2;
    size_t len = 0;
    FILE *mem;

    if (mkdtemp(dir) == NULL)
        return 1;
    ok(cfg_defaults(table, &err) == 0, "defaults load");
    is_str(s_name, "default-name", "string default");
    ok(n_port == 25 && t_timeout == 30 && b_flag == 0, "number, time and boolean defaults");

    err = load_err("name = x\n\n# comment\nbogus_key = 1\n");
    like(err, "bad.conf:4: unknown key \"bogus_key\"", "unknown key: file, line and key");
    free(err);

    err = load_err("port = 2x5\n");
    like(err, "bad.conf:1: key \"port\": bad number \"2x5\"", "bad number: file, line and key");
    free(err);

    err = load_err("\n\nport = 70000\n");
    like(err, "bad.conf:3: key \"port\": value \"70000\" is out of range 1..65535",
         "out of range: file, line, key and bounds");
    free(err);

    err = load_err("timeout = 2w\n");
    like(err, "bad.conf:1: key \"timeout\": bad time", "bad time unit");
    free(err);

    err = load_err("flag = maybe\n");
    like(err, "bad.conf:1: key \"flag\": bad boolean \"maybe\"", "bad boolean");
    free(err);

    err = load_err("just words\n");
    like(err, "bad.conf:1: expected \"key = value\"", "line without '='");
    free(err);

    err = load_err("  indented = 1\n");
    like(err, "bad.conf:1: continuation line without a key", "continuation at start");
    free(err);

    ok(cfg_load_file(table, "/nonexistent/mssante.conf", &err) < 0, "missing file fails");
    like(err, "/nonexistent/mssante.conf: cannot open: No such file", "missing file is named");
    free(err);

    /* A bad file leaves every earlier setting untouched. */
    err = load_err("name = changed\nport = 99\nport = nope\n");
    ok(err != NULL && strcmp(s_name, "default-name") == 0 && n_port == 25,
       "a failing file changes no setting");
    free(err);

    path = write_file("good.conf", "# a valid file\n"
                                   "name = operator A\n"
                                   "database = host=/tmp dbname=mssante\n"
                                   "    password=secret\n"
                                   "port = 587\n"
                                   "timeout = 5m\n"
                                   "flag = yes\n"
                                   "port = 2525\n");
    ok(cfg_load_file(table, path, &err) == 0, "valid file loads");
    is_str(s_name, "operator A", "string value keeps inner spaces");
    is_str(s_db, "host=/tmp dbname=mssante password=secret", "continuation line joined");
    ok(n_port == 2525, "later assignment overrides (got %ld)", n_port);
    ok(t_timeout == 300, "5m is 300 seconds (got %ld)", t_timeout);
    ok(b_flag == 1, "yes is true");
    like(cfg_lookup(table, "port")->origin, "good.conf:8", "origin records file and line");

    /* Round trip: what cfg_print writes reads back to the same values. */
    mem = open_memstream(&buf, &len);
    cfg_print(mem, table, 0);
    fclose(mem);
    like(buf, "database = host=/tmp dbname=mssante password=*****", "printed settings hide the password");
    ok(strstr(buf, "secret") == NULL, "the password itself is not printed");
    {
        /* Put the password back to compare the round trip of the rest. */
        char *p = strstr(buf, "*****");
        char *fixed = malloc(len + 16);

        snprintf(fixed, len + 16, "%.*ssecret%s", (int) (p - buf), buf, p + 5);
        path2 = write_file("printed.conf", fixed);
        free(fixed);
    }
    free(s_name);
    s_name = NULL;
    cfg_defaults(table, &err);
    ok(cfg_load_file(table, path2, &err) == 0, "printed settings load back");
    ok(strcmp(s_name, "operator A") == 0 && n_port == 2525 && t_timeout == 300 && b_flag == 1 &&
           strcmp(s_db, "host=/tmp dbname=mssante password=secret") == 0,
       "printed settings round-trip to the same values");
    free(buf);

    /* libpq takes the last of repeated keywords: every password is hidden. */
    ok(cfg_set(table, "database=password=first host=h password=second", &err) == 0, "-o database");
    mem = open_memstream(&buf, &len);
    cfg_print(mem, table, 1);
    fclose(mem);
    like(buf, "database = password=***** host=h password=*****", "a repeated password is hidden each time");
    ok(strstr(buf, "first") == NULL && strstr(buf, "second") == NULL, "neither is printed");
    free(buf);
    ok(cfg_set(table, "database=postgresql://u:pw1@h/db?password=pw2 postgres://v:pw3@i", &err) == 0,
       "-o URIs");
    mem = open_memstream(&buf, &len);
    cfg_print(mem, table, 1);
    fclose(mem);
    like(buf, "database = postgresql://u:*****@h/db?password=***** postgres://v:*****@i",
         "URI passwords and query passwords are hidden");
    ok(strstr(buf, "pw") == NULL, "none of them is printed");
    free(buf);

    /* A former name sets the current key, says so, and is never printed. */
    {
        char log[4200];
        int saved = dup(2);
        FILE *fp;
        size_t n;

        snprintf(log, sizeof(log), "%s/stderr", dir);
        msg_open("cfg_test", 1);
        fflush(stderr);
        if (freopen(log, "w", stderr) == NULL)
            return 1;
        path = write_file("alias.conf", "port = 30\nold_name = renamed\n");
        ok(cfg_load_file(table, path, &err) == 0, "a former key name is accepted");
        fflush(stderr);
        dup2(saved, 2);
        close(saved);
        is_str(s_name, "renamed", "it sets the key it names");
        like(cfg_lookup(table, "old_name")->origin, "alias.conf:2",
             "lookup by the former name finds the key");
        fp = fopen(log, "r");
        n = fread(buf = calloc(1, 4096), 1, 4095, fp);
        fclose(fp);
        ok(n > 0, "a warning was written");
        like(buf, "alias.conf:2: key \"old_name\" is the former name of \"name\"",
             "the warning names the file, the line and both names");
        free(buf);
        unlink(log);
        unlink(path);
        mem = open_memstream(&buf, &len);
        cfg_print(mem, table, 0);
        fclose(mem);
        ok(strstr(buf, "old_name") == NULL && strstr(buf, "name = renamed"),
           "only the current name is printed");
        free(buf);
        path = write_file("good.conf", "");
    }

    ok(cfg_set(table, "port=26", &err) == 0 && n_port == 26, "-o override applies");
    ok(cfg_set(table, "nope=1", &err) < 0, "-o unknown key refused");
    like(err, "unknown key \"nope\"", "-o error names the key");
    free(err);

    /* write_file() returns one buffer: each file is named again to remove it */
    for (const char *const *f = (const char *const[]){"bad.conf", "printed.conf", "good.conf", NULL}; *f; f++)
        unlink(write_file(*f, ""));
    ok(rmdir(dir) == 0, "the temporary directory is left empty and removed");
    return done_testing();
}
