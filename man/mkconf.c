/*
 * mkconf - write mssante.conf(5) from the table every program reads, so
 * that the page lists exactly the keys, defaults and bounds of this build.
 */
#include <stdio.h>
#include <string.h>

#include "params.h"

/* roff - text with roff's special characters made literal */
static void roff(const char *s)
{
    if (*s == '.' || *s == '\'')
        fputs("\\&", stdout);
    for (; *s; s++) {
        if (*s == '\\')
            fputs("\\e", stdout);
        else if (*s == '-')
            fputs("\\-", stdout);
        else
            putchar(*s);
    }
}

/* main - the commented mssante.conf from the settings table */
int main(void)
{
    static const char *const type[] = {"text", "a number", "yes or no", "a time in s, m, h or d"};

    puts(
        ".TH MSSANTE.CONF 5 \"2026-11\" \"mssante " MSSANTE_VERSION "\" \"MSSanté operator add-on\"\n"
        ".SH NAME\nmssante.conf \\- configuration of the MSSanté operator add-on\n"
        ".SH DESCRIPTION\nOne file,\n.BR " MSSANTE_DEFAULT_CONF ",\n"
        "configures every program and plugin of the add-on. The syntax is that of Postfix's\n"
        "main.cf: \\fIkey\\fR = \\fIvalue\\fR lines, \\(aq#\\(aq comments and blank lines ignored,\n"
        "a line starting with white space continues the previous value, a later assignment\n"
        "overrides an earlier one.\n.PP\n"
        "Every program reads the whole file and stops on an unknown key or a bad value,\n"
        "naming the file, the line and the key. \\fB\\-n\\fR prints the effective settings (secrets masked),\n"
        "\\fB\\-o\\fR \\fIkey=value\\fR overrides one for a single run.\n"
        ".SH KEYS");
    for (const struct cfg_param *p = mssante_params; p->name; p++) {
        if (p->type == CFG_ALIAS) {
            printf(".TP\n.B %s\nThe former name of\n.BR %s ;\n"
                   "still accepted, with a warning naming the file and the line.\n",
                   p->name, p->defval);
            continue;
        }
        printf(".TP\n.BR %s \" = \" \"", p->name);
        roff(p->defval);
        printf("\"\n");
        roff(p->help);
        printf(" (%s", type[p->type]);
        if (p->type == CFG_INT || p->type == CFG_TIME)
            printf(", %ld to %ld%s", p->min, p->max, p->type == CFG_TIME ? " seconds" : "");
        printf(").\n");
    }
    puts(".SH FILES\n" MSSANTE_DEFAULT_CONF " (mode 0640, group of the daemons' user)\n"
         ".SH SEE ALSO\n.BR milter-whitelist (8),\n.BR milter-smime (8),\n"
         ".BR annuaire-sync (8),\n.BR mssante-otp (8),\n.BR mssante-db (8),\n.BR postconf (5)");
    return 0;
}
