/*
 * fhir - read FHIR Bundles with jansson.
 *
 * Only what the Annuaire publishes as an MSSanté mailbox is taken: a
 * telecom with system "email" and the fr-core e-mail type extension coded
 * MSSANTE; plain e-mail addresses of the same resource are ignored. The
 * mailbox metadata extension gives the BAL type and the liste rouge flag.
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "fhir.h"
#include "staging.h"
#include "mymalloc.h"

#define EXT_EMAIL_TYPE "https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-contact-point-email-type"
#define EXT_MSS_META                                                                                         \
    "https://interop.esante.gouv.fr/ig/fhir/annuaire/StructureDefinition/as-ext-mailbox-mss-metadata"
#define OID_RPPS   "urn:oid:1.2.250.1.71.4.2.1"
#define SYS_FINESS "https://finess.esante.gouv.fr"

/* str - a string member of a JSON object, or NULL */
static const char *str(json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));

    return s ? s : "";
}

/* extension - the extension with a URL in an object's "extension" array */
static json_t *extension(json_t *o, const char *url)
{
    size_t i;
    json_t *e;

    json_array_foreach(json_object_get(o, "extension"), i, e) if (strcmp(str(e, "url"), url) == 0) return e;
    return NULL;
}

/* is_mssante - a telecom that is an MSSanté mailbox */
static int is_mssante(json_t *t)
{
    json_t *e = extension(t, EXT_EMAIL_TYPE);

    return strcmp(str(t, "system"), "email") == 0 && e &&
           strcmp(str(json_object_get(e, "valueCoding"), "code"), "MSSANTE") == 0;
}

/* identifier - the value of the identifier of a system, or "" */
static const char *identifier(json_t *r, const char *system)
{
    size_t i;
    json_t *id;

    json_array_foreach(json_object_get(r, "identifier"), i,
                       id) if (strcmp(str(id, "system"), system) == 0) return str(id, "value");
    return "";
}

/* fhir_bundle - the rows of one FHIR Bundle page, and the next page's address */
int fhir_bundle(const char *text, size_t len, const char *where, fhir_row_fn fn, void *ctx, char **next,
                char **err)
{
    json_error_t je;
    json_t *b = json_loadb(text, len, 0, &je), *entry, *link;
    size_t i, j;
    int ret = -1;

    *next = NULL;
    if (b == NULL) {
        *err = xasprintf("%s:%d: not valid JSON: %s", where, je.line, je.text);
        return -1;
    }
    if (strcmp(str(b, "resourceType"), "OperationOutcome") == 0) {
        json_t *issue = json_array_get(json_object_get(b, "issue"), 0);

        *err = xasprintf("%s: the server answered an OperationOutcome: %s", where,
                         *str(issue, "diagnostics") ? str(issue, "diagnostics") : str(issue, "code"));
        goto out;
    }
    if (strcmp(str(b, "resourceType"), "Bundle") != 0) {
        *err = xasprintf("%s: not a FHIR Bundle (resourceType \"%.40s\")", where, str(b, "resourceType"));
        goto out;
    }
    json_array_foreach(json_object_get(b, "link"), i,
                       link) if (strcmp(str(link, "relation"), "next") == 0 && *str(link, "url")) *next =
        xstrdup(str(link, "url"));
    json_array_foreach(json_object_get(b, "entry"), i, entry)
    {
        json_t *r = json_object_get(entry, "resource"), *t;
        const char *rt = str(r, "resourceType");
        int org = strcmp(rt, "Organization") == 0;

        if (!org && strcmp(rt, "Practitioner") && strcmp(rt, "PractitionerRole"))
            continue;
        json_array_foreach(json_object_get(r, "telecom"), j, t)
        {
            const char *v[ST_NCOLS];
            json_t *meta = extension(t, EXT_MSS_META), *type = meta ? extension(meta, "type") : NULL;
            json_t *red = meta ? extension(meta, "listeRouge") : NULL;
            json_t *svc = meta ? extension(meta, "service") : NULL;
            json_t *name = json_array_get(json_object_get(r, "name"), 0);
            const char *nat = identifier(r, OID_RPPS);

            if (!is_mssante(t))
                continue;
            for (int k = 0; k < ST_NCOLS; k++)
                v[k] = "";
            v[ST_ADDRESS] = str(t, "value");
            v[ST_BAL_TYPE] =
                type  ? str(json_array_get(
                                json_object_get(json_object_get(type, "valueCodeableConcept"), "coding"), 0),
                            "code")
                : org ? "ORG"
                      : "PER";
            if (*nat) {
                char kind[2] = {nat[0], 0};

                v[ST_ID_TYPE] = strcmp(kind, "8") == 0 ? "8" : strcmp(kind, "0") == 0 ? "0" : "";
                v[ST_ID_PP] = nat + 1;
                v[ST_NATIONAL_ID] = nat;
            }
            if (org) {
                v[ST_ORG_NAME] = json_is_string(json_object_get(r, "name")) ? str(r, "name") : "";
                v[ST_STRUCT_ID] = identifier(r, SYS_FINESS);
                v[ST_STRUCT_ID_TYPE] = *v[ST_STRUCT_ID] ? "1" : "";
            } else if (name) {
                v[ST_LAST_NAME] = str(name, "family");
                v[ST_FIRST_NAME] = json_string_value(json_array_get(json_object_get(name, "given"), 0))
                                       ? json_string_value(json_array_get(json_object_get(name, "given"), 0))
                                       : "";
            }
            v[ST_SERVICE] = svc ? str(svc, "valueString") : "";
            v[ST_LISTE_ROUGE] = red && json_is_true(json_object_get(red, "valueBoolean")) ? "t" : "f";
            if (fn(ctx, (long) i + 1, v) < 0)
                goto out;
        }
    }
    ret = 0;
out:
    if (ret < 0) {
        free(*next);
        *next = NULL;
    }
    json_decref(b);
    return ret;
}
