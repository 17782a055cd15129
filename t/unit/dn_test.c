/*
 * dn_test - DN parsing and matching, one case per quirk of the liste
 * blanche (MSSANTE.md section 1) and of OpenSSL's printing.
 */
#include <stdlib.h>

#include "dn.h"
#include "tap.h"

/* same - two spellings that must match */
static void same(const char *a, const char *b, const char *what)
{
    const char *why = NULL;
    struct dn *x = dn_parse(a, &why), *y = dn_parse(b, &why);

    if (!ok(x && y && dn_equal(x, y) && dn_equal(y, x), "match: %s", what))
        printf("#   a: %s\n#   b: %s\n#   parse: %s\n", a, b, x && y ? "ok" : why);
    dn_free(x);
    dn_free(y);
}

/* differ - two DNs that must not match */
static void differ(const char *a, const char *b, const char *what)
{
    const char *why = NULL;
    struct dn *x = dn_parse(a, &why), *y = dn_parse(b, &why);

    ok(x && y && !dn_equal(x, y) && !dn_equal(y, x), "no match: %s", what);
    dn_free(x);
    dn_free(y);
}

/* refuse - a malformed DN */
static void refuse(const char *a, const char *reason)
{
    const char *why = NULL;
    struct dn *x = dn_parse(a, &why);

    ok(x == NULL, "refuses \"%s\"", a);
    like(why, reason, "reason for \"%s\"", a);
    dn_free(x);
}

/* main - distinguished name parsing and comparison */
int main(void)
{
    const char *listed = "CN=medimail-asip.mipih.fr,OU=318310021300028,O=GIP MIPIH,"
                         "ST=Haute-Garonne (31),C=FR";
    const char *why;
    struct dn *d;
    char *s;

    same(listed, listed, "identical text");
    same("CN=mailin.interop-mssante.apicrypt.org, OU=343975235300037, O=APICEM, ST=Nord (59), C=FR",
         "CN=mailin.interop-mssante.apicrypt.org,OU=343975235300037,O=APICEM,ST=Nord (59),C=FR",
         "spaces after commas");
    same(listed, "cn=medimail-asip.mipih.fr,ou=318310021300028,o=GIP MIPIH,st=Haute-Garonne (31),c=FR",
         "case of attribute types");
    same(listed, "CN=MEDIMAIL-ASIP.MIPIH.FR,OU=318310021300028,O=gip mipih,ST=haute-garonne (31),C=fr",
         "case of values");
    same("CN=mx.chu-limoges.fr,OU=26870851500016,O=\"C H U  DE  LIMOGES\",ST=Haute-Vienne (87),C=FR",
         "CN=mx.chu-limoges.fr,OU=26870851500016,O=C H U DE LIMOGES,ST=Haute-Vienne (87),C=FR",
         "quoted value with doubled inner spaces");
    same("CN=mx.chu-limoges.fr,O=\"C H U  DE  LIMOGES\",C=FR",
         "CN=mx.chu-limoges.fr,O=C H U  DE  LIMOGES,C=FR", "doubled spaces, unquoted");
    same("CN=mss.ch.fr,S=Gironde (33),C=FR", "CN=mss.ch.fr,ST=Gironde (33),C=FR", "S and ST synonyms");
    same("CN=mss.ch.fr,stateOrProvinceName=Gironde (33),C=FR", "CN=mss.ch.fr,ST=Gironde (33),C=FR",
         "long attribute name");
    same("2.5.4.3=mss.ch.fr,2.5.4.6=FR", "CN=mss.ch.fr,C=FR", "numeric OIDs");
    differ("CN=cert.espacedeconfiance.mssante.fr,OU=300000000099622,O=GIP - TEST9962,L=Paris (75),C=FR",
           "CN=cert.espacedeconfiance.mssante.fr,OU=300000000099622,O=GIP - TEST9962,ST=Paris (75),C=FR",
           "L= is not ST=");
    same("CN=mx.ch-st-etienne.fr,O=CENTRE HOSPITALIER DE SAINT-ÉTIENNE,C=FR",
         "CN=mx.ch-st-etienne.fr,O=centre hospitalier de saint-étienne,C=FR", "accented value, case folded");
    same("CN=mx.ch-st-etienne.fr,O=SAINT-\xc3\x89TIENNE,C=FR",
         "CN=mx.ch-st-etienne.fr,O=SAINT-E\xcc\x81TIENNE,C=FR", "composed and decomposed É");
    differ("CN=mx.ch-st-etienne.fr,O=SAINT-ÉTIENNE,C=FR", "CN=mx.ch-st-etienne.fr,O=SAINT-ETIENNE,C=FR",
           "É is not E");
    same("CN=caf\\C3\\A9.fr,C=FR", "CN=café.fr,C=FR", "hex-escaped UTF-8");
    same("CN=mx.test,O=Dupont\\, Durand et Associ\\C3\\A9s,C=FR",
         "CN=mx.test,O=\"Dupont, Durand et Associés\",C=FR", "escaped comma and quoted comma");
    same("CN=a+UID=b,O=x,C=FR", "UID=b+CN=a,O=x,C=FR", "multi-valued RDN in either order");
    differ("CN=a+UID=b,O=x,C=FR", "CN=a,UID=b,O=x,C=FR", "multi-valued RDN is not two RDNs");
    same(listed,
         "C = FR, ST = Haute-Garonne (31), O = GIP MIPIH, OU = 318310021300028, CN = medimail-asip.mipih.fr",
         "OpenSSL's default print, reversed order");
    same(listed, "/C=FR/ST=Haute-Garonne (31)/O=GIP MIPIH/OU=318310021300028/CN=medimail-asip.mipih.fr",
         "OpenSSL oneline");
    same(listed, "C=FR;ST=Haute-Garonne (31);O=GIP MIPIH;OU=318310021300028;CN=medimail-asip.mipih.fr",
         "semicolon separators, reversed");
    differ(listed, "CN=medimail-asip.mipih.fr,OU=318310021300029,O=GIP MIPIH,ST=Haute-Garonne (31),C=FR",
           "one digit of OU differs");
    differ(listed, "CN=medimail-asip.mipih.fr,OU=318310021300028,O=GIP MIPIH,C=FR", "one attribute missing");
    differ("CN=a,O=b,C=FR", "O=b,CN=a,C=FR", "RDNs shuffled (not a reversal)");
    same("CN=trailing\\ ,C=FR", "CN=trailing\\20,C=FR", "escaped trailing space kept");

    refuse("", "empty DN");
    refuse("CN", "without '='");
    refuse("CN=a,,O=b", "without '='");
    refuse("CN=a,", "ends with a separator");
    refuse("=a,C=FR", "invalid attribute type");
    refuse("C N=a", "invalid attribute type");
    refuse("CN=\"abc,C=FR", "unterminated");
    refuse("CN=a<b,C=FR", "unescaped special");
    same(
        "CN=mssante.ch-ouestguyane.fr,OU=1970300083,O=CENTRE HOSPITALIER \"FRANCK-JOLY\",ST=Guyane (973),C=FR",
        "CN=mssante.ch-ouestguyane.fr,OU=1970300083,O=CENTRE HOSPITALIER \\\"FRANCK-JOLY\\\",ST=Guyane (973),C=FR",
        "unescaped quotes inside a value, as in the national list");
    refuse("CN=a O=b", "unescaped '='");
    refuse("CN=a\\", "escape at end");
    refuse("CN=,C=FR", "empty attribute value");
    refuse("CN=\\ff\\fe,C=FR", "not valid UTF-8");
    {
        /* 64 values in one RDN are the most that compare: more is refused, 64 equal themselves */
        char many[64 * 6 + 16] = "", *p = many;

        for (int i = 0; i < 64; i++)
            p += sprintf(p, "%sCN=%02d", i ? "+" : "", i);
        same(many, many, "an RDN of 64 values equals itself");
        strcpy(p, "+CN=xx");
        refuse(many, "more than 64 values in one RDN");
    }

    d = dn_parse("CN=mailin.interop-mssante.apicrypt.org, OU=343975235300037, O=APICEM, ST=Nord (59), C=FR",
                 &why);
    is_str(dn_get(d, "CN"), "mailin.interop-mssante.apicrypt.org", "dn_get CN");
    is_str(dn_get(d, "st"), "Nord (59)", "dn_get by lower-case name");
    is_str(dn_get(d, "S"), "Nord (59)", "dn_get by synonym");
    ok(dn_get(d, "L") == NULL, "dn_get of an absent type is NULL");
    dn_free(d);
    d = dn_parse("CN=mx.test,O=\"Dupont, Durand\",C=FR", &why);
    s = dn_format(d);
    is_str(s, "CN=mx.test,O=Dupont\\, Durand,C=FR", "dn_format escapes a comma");
    {
        struct dn *back = dn_parse(s, &why);

        ok(back && dn_equal(back, d), "dn_format output parses back to the same DN");
        dn_free(back);
    }
    free(s);
    dn_free(d);
    ok(dn_value_match("mx.A.mssante.test", "MX.a.MSSANTE.test"), "CN values match case-insensitively");
    ok(!dn_value_match("mx.a.mssante.test", "mx.a.mssante.test.evil"), "a longer CN does not match");
    return done_testing();
}
