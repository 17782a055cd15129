/*
 * account - the pages of a signed-in user: "Mon profil" (password,
 * contact address with the second factor again, notification address,
 * phone), "Mes appareils" (device passwords) and "Délégués" (the
 * delegates of the ORG BALs the user is responsible of).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "addr.h"
#include "authclient.h"
#include "enrol.h"
#include "msg.h"
#include "mymalloc.h"
#include "params.h"
#include "portal.h"
#include "pwhash.h"

#define DEVICE_SHOWN 600 /* seconds a new device password stays on its page */

/* one_row - one row of a query, or NULL (and a 503 page) */
static PGresult *one_row(struct req *r, const char *sql, int n, const char *const *p)
{
    PGresult *res = dbq(sql, n, p);

    if (res == NULL || PQntuples(res) != 1) {
        PQclear(res);
        unavailable(r);
        return NULL;
    }
    return res;
}

/* changed - a statement's rows; -1 (and a 503 page) on failure */
static long changed(struct req *r, const char *sql, int n, const char *const *p)
{
    PGresult *res = dbq(sql, n, p);
    long rows;

    if (res == NULL) {
        unavailable(r);
        return -1;
    }
    rows = atol(PQcmdTuples(res));
    PQclear(res);
    return rows;
}

/* dl_item - one term and its value */
static void dl_item(struct req *r, const char *id, const char *term, const char *value)
{
    buf_printf(&r->body, "<dt>%s</dt><dd id=\"%s\">", term, id);
    buf_html(&r->body, value);
    buf_puts(&r->body, "</dd>");
}

/* ---------------------------------------------------------------- profile */

/* profile_page - GET /profil */
static void profile_page(struct req *r, const char *error, const char *note)
{
    const char *p[1] = {r->s.account_id};
    PGresult *res =
        one_row(r,
                "SELECT coalesce(contact_email, ''), coalesce(phone, ''), otp_method,"
                " coalesce((SELECT min(b.notify_email) FROM bal_access x JOIN bal b ON b.address = x.bal"
                "  WHERE x.account_id = a.id AND x.role = 'owner'), '')"
                " FROM account a WHERE id = $1",
                1, p);

    if (res == NULL)
        return;
    page_begin(r, T(r, "Mon profil", "My profile"));
    if (error)
        message(r, "error", error);
    if (note)
        message(r, "ok", note);
    buf_puts(&r->body, "<dl>");
    dl_item(r, "contact", T(r, "Adresse de contact", "Contact address"), PQgetvalue(res, 0, 0));
    dl_item(r, "notification", T(r, "Adresse de notification", "Notification address"),
            PQgetvalue(res, 0, 3));
    dl_item(r, "phone", T(r, "T\xc3\xa9l\xc3\xa9phone", "Phone"), PQgetvalue(res, 0, 1));
    buf_printf(&r->body, "</dl><p><a href=\"/canal\">%s</a></p>",
               T(r,
                 "Changer de canal de t\xc3\xa9l\xc3\xa9"
                 "communication",
                 "Change the code channel"));

    buf_printf(&r->body, "<h2>%s</h2>", T(r, "Mot de passe", "Password"));
    password_rules(r);
    form_begin(r, "/profil/mot-de-passe");
    input(r, "password", "current", T(r, "Mot de passe actuel", "Current password"), "current-password", NULL,
          NULL);
    input(r, "password", "password", T(r, "Nouveau mot de passe", "New password"), "new-password", NULL,
          NULL);
    input(r, "password", "confirm", T(r, "Confirmation", "Confirm"), "new-password", NULL, NULL);
    form_end(r, T(r, "Changer le mot de passe", "Change the password"));

    buf_printf(&r->body, "<h2>%s</h2>", T(r, "Adresse de contact", "Contact address"));
    message(r, "note",
            T(r,
              "Elle re\xc3\xa7oit vos liens et, si vous l'avez choisi, vos codes. La changer demande"
              " votre mot de passe et un code ; l'ancienne adresse est pr\xc3\xa9venue.",
              "It receives your links and, if you chose so, your codes. Changing it takes your"
              " password and a code; the old address is told."));
    form_begin(r, "/profil/contact");
    input(r, "email", "contact", T(r, "Nouvelle adresse de contact", "New contact address"), "email", NULL,
          NULL);
    input(r, "password", "current", T(r, "Mot de passe actuel", "Current password"), "current-password", NULL,
          NULL);
    form_end(r, T(r, "Continuer", "Continue"));

    buf_printf(&r->body, "<h2>%s</h2>",
               T(r, "Notifications et t\xc3\xa9l\xc3\xa9phone", "Notices and phone"));
    form_begin(r, "/profil/coordonnees");
    buf_printf(&r->body,
               "<p><label for=\"notify\">%s</label><input type=\"email\" id=\"notify\" name=\"notify\""
               " autocomplete=\"email\" value=\"",
               T(r,
                 "Adresse recevant les avis de nouveau message (vide : aucun"
                 " avis)",
                 "Address receiving new-mail notices (empty: none)"));
    buf_html(&r->body, PQgetvalue(res, 0, 3));
    buf_printf(&r->body,
               "\"></p><p><label for=\"tel\">%s</label><input type=\"tel\" id=\"tel\" name=\"phone\""
               " autocomplete=\"tel\" value=\"",
               T(r, "T\xc3\xa9l\xc3\xa9phone", "Phone"));
    buf_html(&r->body, PQgetvalue(res, 0, 1));
    buf_puts(&r->body, "\"></p>");
    form_end(r, T(r, "Enregistrer", "Save"));
    page_end(r);
    PQclear(res);
}

/* password_change - POST /profil/mot-de-passe: the current one checked by the passdb */
static void password_change(struct req *r)
{
    const char *cur = form_get(&r->form, "current"), *pw = form_get(&r->form, "password");
    const char *confirm = form_get(&r->form, "confirm"), *why, *p[2] = {r->s.account_id, NULL};
    struct authc_reply rep;
    PGresult *res;
    char *hash;
    int right;

    if (cur == NULL || *cur == '\0' || strlen(cur) > 256) {
        profile_page(r, T(r, "Saisissez votre mot de passe actuel.", "Enter your current password."), NULL);
        return;
    }
    if (ask_dovecot(r, r->s.login, cur, OTP_PORTAL_CHECK "=password", &rep) < 0) {
        unavailable(r);
        return;
    }
    right = rep.outcome != NULL && strcmp(rep.outcome, "code-needed") == 0;
    authc_free(&rep);
    if (!right) {
        profile_page(r, T(r, "Mot de passe actuel incorrect.", "Wrong current password."), NULL);
        return;
    }
    if ((res = one_row(r, "SELECT password FROM account WHERE id = $1", 1, p)) == NULL)
        return;
    why = password_problem(r, pw, confirm, r->s.login, PQgetvalue(res, 0, 0));
    PQclear(res);
    if (why != NULL) {
        profile_page(r, why, NULL);
        return;
    }
    if ((hash = new_hash(r, pw)) == NULL)
        return;
    p[1] = hash;
    right =
        changed(r, "UPDATE account SET password = $2, password_changed_at = now() WHERE id = $1", 2, p) == 1;
    OPENSSL_cleanse(hash, strlen(hash));
    free(hash);
    if (!right)
        return;
    audit(r, r->s.login, "portal-password-change", "ok", NULL);
    msg_info("%s: password changed from %s", r->s.login, r->client);
    profile_page(r, NULL,
                 T(r, "Votre mot de passe est chang\xc3\xa9 ; vos appareils gardent le leur.",
                   "Your password is changed; your devices keep theirs."));
}

/* contact_start - POST /profil/contact: the new address kept, the password checked, a code asked */
static void contact_start(struct req *r)
{
    const char *in = form_get(&r->form, "contact"), *cur = form_get(&r->form, "current"), *why = NULL;
    char *contact = in && strlen(in) < sizeof(r->s.pending_contact) ? address_canon(in, &why) : NULL;
    struct authc_reply rep;
    const char *o;

    if (contact == NULL) {
        profile_page(
            r, T(r, "Cette adresse de contact n'est pas valable.", "This contact address is not valid."),
            NULL);
        return;
    }
    if (cur == NULL || *cur == '\0' || strlen(cur) >= sizeof(r->s.password)) {
        free(contact);
        profile_page(r, T(r, "Saisissez votre mot de passe actuel.", "Enter your current password."), NULL);
        return;
    }
    /* As a sign-in: code-needed (app) or code-sent (to the current contact address). */
    if (ask_dovecot(r, r->s.login, cur, NULL, &rep) < 0) {
        free(contact);
        unavailable(r);
        return;
    }
    o = rep.outcome ? rep.outcome : "";
    if (strcmp(o, "code-needed") == 0 || strcmp(o, "code-sent") == 0) {
        snprintf(r->s.pending_contact, sizeof(r->s.pending_contact), "%s", contact);
        snprintf(r->s.password, sizeof(r->s.password), "%s", cur);
        r->s.email_channel = strcmp(o, "code-sent") == 0;
        r->s.code_tries = 0;
        redirect(r, "/profil/code");
    } else {
        profile_page(r, T(r, "Mot de passe actuel incorrect.", "Wrong current password."), NULL);
    }
    authc_free(&rep);
    free(contact);
}

/* contact_code_page - GET /profil/code */
static void contact_code_page(struct req *r, const char *error)
{
    if (r->s.pending_contact[0] == '\0') {
        redirect(r, "/profil");
        return;
    }
    page_code(r, T(r, "Confirmer la nouvelle adresse", "Confirm the new address"), "/profil/code", error);
}

/* contact_finish - POST /profil/code: password and code to the passdb, then the change */
static void contact_finish(struct req *r)
{
    const char *code = form_get(&r->form, "code"), *p[2] = {r->s.account_id, r->s.pending_contact};
    char *body;
    PGresult *res;
    int asked;

    if (r->s.pending_contact[0] == '\0') {
        redirect(r, "/profil");
        return;
    }
    if (!is_code(code)) {
        contact_code_page(r, T(r, "Le code a 6 chiffres.", "The code has 6 digits."));
        return;
    }
    if (++r->s.code_tries > 5) {
        r->s.pending_contact[0] = '\0';
        OPENSSL_cleanse(r->s.password, sizeof(r->s.password));
        profile_page(r, T(r, "Trop de codes incorrects : recommencez.", "Too many wrong codes: start again."),
                     NULL);
        return;
    }
    if ((asked = ask_with_code(r, code)) < 0) {
        unavailable(r);
        return;
    }
    if (!asked) {
        contact_code_page(
            r, T(r, "Code incorrect ou d\xc3\xa9j\xc3\xa0 utilis\xc3\xa9.", "Wrong or used code."));
        return;
    }
    OPENSSL_cleanse(r->s.password, sizeof(r->s.password));
    if ((res = one_row(r,
                       "WITH old AS (SELECT contact_email FROM account WHERE id = $1)"
                       " UPDATE account SET contact_email = $2 WHERE id = $1"
                       " RETURNING (SELECT coalesce(contact_email, '') FROM old)",
                       2, p)) == NULL)
        return;
    audit(r, r->s.login, "portal-contact-change", "ok", r->s.pending_contact);
    msg_info("%s: contact address changed from %s", r->s.login, r->client);
    /* The old address is told, with nothing but the fact and the new address. */
    if (*PQgetvalue(res, 0, 0)) {
        body = xasprintf(
            "L'adresse de contact de votre compte de messagerie MSSant\xc3\xa9 %s est d\xc3\xa9sormais"
            " %s.\n\nSi vous n'\xc3\xaates pas \xc3\xa0 l'origine de ce changement, pr\xc3\xa9venez"
            " votre administrateur sans attendre.\n",
            r->s.login, r->s.pending_contact);
        mail_later(PQgetvalue(res, 0, 0), "Changement de votre adresse de contact MSSant\xc3\xa9", body);
        free(body);
    }
    PQclear(res);
    r->s.pending_contact[0] = '\0';
    flash(r,
          "Votre adresse de contact est chang\xc3\xa9"
          "e.",
          "Your contact address is changed.");
    redirect(r, "/profil");
}

/* details_save - POST /profil/coordonnees: notification address, phone */
static void details_save(struct req *r)
{
    const char *notify = form_get(&r->form, "notify"), *phone = form_get(&r->form, "phone"), *why;
    char *canon = NULL;
    const char *p[3] = {r->s.account_id, NULL, NULL};

    if (notify && *notify && (canon = address_canon(notify, &why)) == NULL) {
        profile_page(r,
                     T(r, "Cette adresse de notification n'est pas valable.",
                       "This notification address is not valid."),
                     NULL);
        return;
    }
    if (phone && (strlen(phone) > 32 || strspn(phone, "+0123456789 .-()") != strlen(phone))) {
        free(canon);
        profile_page(r,
                     T(r, "Ce num\xc3\xa9ro de t\xc3\xa9l\xc3\xa9phone n'est pas valable.",
                       "This phone number is not valid."),
                     NULL);
        return;
    }
    p[1] = canon;
    p[2] = phone && *phone ? phone : NULL;
    /* Every BAL the user owns gets the address; the account the phone. */
    if (changed(r,
                "WITH b AS (UPDATE bal SET notify_email = $2 WHERE address IN"
                " (SELECT bal FROM bal_access WHERE account_id = $1 AND role = 'owner'))"
                " UPDATE account SET phone = $3 WHERE id = $1",
                3, p) >= 0) {
        audit(r, r->s.login, "portal-details", "ok", canon);
        flash(r,
              "Vos coordonn\xc3\xa9"
              "es sont enregistr\xc3\xa9"
              "es.",
              "Your details are saved.");
        redirect(r, "/profil");
    }
    free(canon);
}

/* ---------------------------------------------------------------- devices */

/* devices_page - GET /appareils (the list) or /appareils/nouveau (a password just made) */
static void devices_page(struct req *r, int fresh, const char *error)
{
    const char *p[1] = {r->s.account_id};
    PGresult *res;

    if (!fresh || time(NULL) > r->s.device_until) {
        OPENSSL_cleanse(r->s.device_pw, sizeof(r->s.device_pw));
        fresh = 0;
    }
    if ((res = dbq(
             "SELECT name, to_char(created_at, 'DD/MM/YYYY HH24:MI'), coalesce(to_char(last_used_at,"
             " 'DD/MM/YYYY HH24:MI'), '-') FROM device_password WHERE account_id = $1 AND revoked_at IS NULL"
             " ORDER BY created_at",
             1, p)) == NULL) {
        unavailable(r);
        return;
    }
    page_begin(r, T(r, "Mes appareils mobiles", "My devices"));
    if (error)
        message(r, "error", error);
    if (fresh) {
        buf_printf(&r->body,
                   "<section id=\"new-device\"><h2>%s</h2><p>%s</p><p><code class=\"secret\""
                   " id=\"device-password\">",
                   T(r, "Nouvel appareil", "New device"),
                   T(r,
                     "Son mot de passe, affich\xc3\xa9 une seule fois : saisissez-le dans l'application de"
                     " messagerie de l'appareil, ou scannez le QR code avec lui.",
                     "Its password, shown once:"
                     " enter it in the device's mail app, or scan the QR code with it."));
        buf_html(&r->body, r->s.device_pw);
        buf_printf(&r->body,
                   "</code></p><p><img src=\"/appareils/qr.png\" width=\"264\" alt=\"%s\"></p></section>",
                   T(r, "QR code de configuration de l'appareil", "QR code configuring the device"));
    }
    buf_printf(
        &r->body,
        "<table id=\"devices\"><thead><tr><th scope=\"col\">%s</th><th scope=\"col\">%s</th>"
        "<th scope=\"col\">%s</th><th scope=\"col\"><span class=\"note\">%s</span></th></tr></thead><tbody>",
        T(r, "Appareil", "Device"), T(r, "Cr\xc3\xa9\xc3\xa9", "Created"),
        T(r, "Derni\xc3\xa8re utilisation", "Last used"), T(r, "Action", "Action"));
    for (int i = 0; i < PQntuples(res); i++) {
        buf_puts(&r->body, "<tr><td>");
        buf_html(&r->body, PQgetvalue(res, i, 0));
        buf_printf(&r->body, "</td><td>%s</td><td>%s</td><td>", PQgetvalue(res, i, 1), PQgetvalue(res, i, 2));
        form_begin(r, "/appareils/revoquer");
        buf_puts(&r->body, "<input type=\"hidden\" name=\"name\" value=\"");
        buf_html(&r->body, PQgetvalue(res, i, 0));
        buf_printf(&r->body, "\"><button type=\"submit\">%s</button></form></td></tr>",
                   T(r, "R\xc3\xa9voquer", "Revoke"));
    }
    buf_puts(&r->body, "</tbody></table>");
    PQclear(res);
    buf_printf(&r->body, "<h2>%s</h2>", T(r, "Ajouter un appareil", "Add a device"));
    form_begin(r, "/appareils");
    input(r, "text", "name",
          T(r, "Nom de l'appareil (ex. t\xc3\xa9l\xc3\xa9phone)", "Device name (e.g. phone)"), "off", NULL,
          "maxlength=\"60\"");
    form_end(r, T(r, "Ajouter", "Add"));
    page_end(r);
}

/* device_add - POST /appareils */
static void device_add(struct req *r)
{
    const char *name = form_get(&r->form, "name");
    char *pw, *err = NULL;
    int exists = 0;

    if (name == NULL || *name == '\0' || strlen(name) >= sizeof(r->s.device_name) ||
        strpbrk(name, "\t\r\n<>\"") != NULL) {
        devices_page(r, 0,
                     T(r, "Donnez un nom \xc3\xa0 l'appareil (60 caract\xc3\xa8res au plus).",
                       "Name the device (60 characters at most)."));
        return;
    }
    if (db() == NULL || (pw = enrol_device_add(db(), r->s.account_id, name, r->s.login, "portal",
                                               r->client[0] ? r->client : NULL, &exists, &err)) == NULL) {
        if (exists) {
            free(err);
            devices_page(
                r, 0,
                T(r, "Un appareil porte d\xc3\xa9j\xc3\xa0 ce nom.", "A device has that name already."));
            return;
        }
        msg_error("%s: device not added: %s", r->s.login, err ? err : "no database");
        free(err);
        unavailable(r);
        return;
    }
    snprintf(r->s.device_pw, sizeof(r->s.device_pw), "%s", pw);
    snprintf(r->s.device_name, sizeof(r->s.device_name), "%s", name);
    r->s.device_until = time(NULL) + DEVICE_SHOWN;
    OPENSSL_cleanse(pw, strlen(pw));
    free(pw);
    msg_info("%s: device added from %s", r->s.login, r->client);
    redirect(r, "/appareils/nouveau");
}

/* device_qr - GET /appareils/qr.png: what a phone needs to set the account up */
static void device_qr(struct req *r)
{
    char *text;

    if (r->s.device_pw[0] == '\0' || time(NULL) > r->s.device_until) {
        page_error(r, 404, "Aucun appareil en cours d'ajout.", "No device being added.");
        return;
    }
    text =
        xasprintf("Compte MSSante\nIdentifiant: %s\nMot de passe: %s\nIMAP: %s (SSL)\nSMTP: %s (STARTTLS)\n",
                  r->s.login, r->s.device_pw, var_portal_imap_server, var_portal_submission_server);
    page_qr(r, text);
    OPENSSL_cleanse(text, strlen(text));
    free(text);
}

/* device_revoke - POST /appareils/revoquer: at once */
static void device_revoke(struct req *r)
{
    const char *name = form_get(&r->form, "name");
    char *err = NULL;
    int done;

    if (name == NULL || db() == NULL ||
        (done = enrol_device_revoke(db(), r->s.account_id, name, r->s.login, "portal",
                                    r->client[0] ? r->client : NULL, &err)) < 0) {
        if (name != NULL) {
            msg_error("%s: device not revoked: %s", r->s.login, err ? err : "no database");
            free(err);
            unavailable(r);
        } else {
            devices_page(r, 0, NULL);
        }
        return;
    }
    if (done)
        msg_info("%s: device revoked from %s", r->s.login, r->client);
    flash(r,
          done ? "L'appareil est r\xc3\xa9voqu\xc3\xa9 : son mot de passe ne sert plus."
               : "Aucun appareil de ce nom.",
          done ? "The device is revoked: its password no longer works." : "No device of that name.");
    redirect(r, "/appareils");
}

/* ---------------------------------------------------------------- delegates */

/* delegates_page - GET /delegues: each ORG BAL the user is responsible of */
static void delegates_page(struct req *r, const char *error)
{
    const char *p[1] = {r->s.account_id};
    PGresult *res =
        dbq("SELECT x.bal, coalesce((SELECT string_agg(a.login || chr(9) || coalesce(a.first_name, '')"
            " || ' ' || coalesce(a.last_name, ''), chr(10) ORDER BY a.login) FROM bal_access d"
            " JOIN account a ON a.id = d.account_id WHERE d.bal = x.bal AND d.role = 'delegate'), '')"
            " FROM bal_access x JOIN bal b ON b.address = x.bal AND b.bal_type = 'ORG'"
            " WHERE x.account_id = $1 AND x.role = 'owner' ORDER BY x.bal",
            1, p);

    if (res == NULL) {
        unavailable(r);
        return;
    }
    page_begin(r, T(r, "D\xc3\xa9l\xc3\xa9gu\xc3\xa9s", "Delegates"));
    if (error)
        message(r, "error", error);
    if (PQntuples(res) == 0)
        message(r, "note",
                T(r, "Vous n'\xc3\xaates responsable d'aucune bo\xc3\xaete organisationnelle.",
                  "You are responsible of no organisational mailbox."));
    for (int i = 0; i < PQntuples(res); i++) {
        const char *bal = PQgetvalue(res, i, 0);
        char *list = xstrdup(PQgetvalue(res, i, 1)), *save = NULL;

        buf_puts(&r->body, "<section class=\"bal\"><h2>");
        buf_html(&r->body, bal);
        buf_puts(&r->body, "</h2><ul>");
        for (char *line = strtok_r(list, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
            char *tab = strchr(line, '\t');

            if (tab == NULL)
                continue;
            *tab = '\0';
            buf_puts(&r->body, "<li>");
            buf_html(&r->body, tab + 1);
            buf_puts(&r->body, " (");
            buf_html(&r->body, line);
            buf_puts(&r->body, ") ");
            form_begin(r, "/delegues/retirer");
            buf_puts(&r->body, "<input type=\"hidden\" name=\"bal\" value=\"");
            buf_html(&r->body, bal);
            buf_puts(&r->body, "\"><input type=\"hidden\" name=\"login\" value=\"");
            buf_html(&r->body, line);
            buf_printf(&r->body, "\"><button type=\"submit\">%s</button></form></li>",
                       T(r, "Retirer", "Remove"));
        }
        free(list);
        buf_puts(&r->body, "</ul>");
        form_begin(r, "/delegues");
        buf_puts(&r->body, "<input type=\"hidden\" name=\"bal\" value=\"");
        buf_html(&r->body, bal);
        buf_puts(&r->body, "\">");
        input(r, "text", "login",
              T(r, "Identifiant du nouveau d\xc3\xa9l\xc3\xa9gu\xc3\xa9", "Login of the new delegate"), "off",
              NULL, NULL);
        form_end(r, T(r, "Ajouter", "Add"));
        buf_puts(&r->body, "</section>");
    }
    PQclear(res);
    page_end(r);
}

/* delegate_change - POST /delegues (add) or /delegues/retirer (remove), for the responsible only */
static void delegate_change(struct req *r, int add)
{
    const char *bal = form_get(&r->form, "bal"), *login = form_get(&r->form, "login");
    const char *p[3] = {r->s.account_id, bal, login};
    long n;

    if (bal == NULL || login == NULL || *login == '\0') {
        delegates_page(r, T(r, "Saisissez un identifiant.", "Enter a login."));
        return;
    }
    /* The responsibility is checked by the statement itself. */
    n = changed(
        r,
        add ? "INSERT INTO bal_access (account_id, bal, role) SELECT a.id, b.address, 'delegate'"
              " FROM account a, bal b WHERE a.login = lower($3) AND b.address = lower($2)"
              " AND b.bal_type = 'ORG' AND a.id <> $1::bigint AND EXISTS (SELECT 1 FROM bal_access o"
              " WHERE o.account_id = $1 AND o.bal = b.address AND o.role = 'owner')"
              " ON CONFLICT (account_id, bal) DO NOTHING"
            : "DELETE FROM bal_access d USING account a WHERE d.account_id = a.id AND a.login = lower($3)"
              " AND d.bal = lower($2) AND d.role = 'delegate' AND EXISTS (SELECT 1 FROM bal_access o"
              " JOIN bal b ON b.address = o.bal AND b.bal_type = 'ORG'"
              " WHERE o.account_id = $1 AND o.bal = d.bal AND o.role = 'owner')",
        3, p);
    if (n < 0)
        return;
    if (n == 0) {
        delegates_page(r,
                       add ? T(r,
                               "Aucun compte de cet identifiant ne peut \xc3\xaatre ajout\xc3\xa9"
                               " (inconnu, ou d\xc3\xa9j\xc3\xa0 titulaire ou d\xc3\xa9l\xc3\xa9gu\xc3\xa9).",
                               "No account of that login can be added (unknown, or already holder or"
                               " delegate).")
                           : T(r, "Ce d\xc3\xa9l\xc3\xa9gu\xc3\xa9 n'existe pas.", "No such delegate."));
        return;
    }
    {
        char *detail = xasprintf("%s %s", bal, login);

        audit(r, r->s.login, add ? "delegate-add" : "delegate-remove", "ok", detail);
        msg_info("%s: %s %s as delegate of %s", r->s.login, add ? "added" : "removed", login, bal);
        free(detail);
    }
    flash(r,
          add ? "D\xc3\xa9l\xc3\xa9gu\xc3\xa9 ajout\xc3\xa9."
              : "D\xc3\xa9l\xc3\xa9gu\xc3\xa9 retir\xc3\xa9 : il ne peut plus"
                " ouvrir la bo\xc3\xaete.",
          add ? "Delegate added." : "Delegate removed: the mailbox no longer opens for them.");
    redirect(r, "/delegues");
}

/* ---------------------------------------------------------------- routing */

/* path_is - method and path */
static int path_is(const struct req *r, const char *method, const char *path)
{
    return strcmp(r->path, path) == 0 && strcmp(r->method, method) == 0;
}

/* account_route - the routes of a signed-in account */
int account_route(struct req *r)
{
    if (path_is(r, "GET", "/profil"))
        profile_page(r, NULL, NULL);
    else if (path_is(r, "POST", "/profil/mot-de-passe"))
        password_change(r);
    else if (path_is(r, "POST", "/profil/contact"))
        contact_start(r);
    else if (path_is(r, "GET", "/profil/code"))
        contact_code_page(r, NULL);
    else if (path_is(r, "POST", "/profil/code"))
        contact_finish(r);
    else if (path_is(r, "POST", "/profil/coordonnees"))
        details_save(r);
    else if (path_is(r, "GET", "/appareils"))
        devices_page(r, 0, NULL);
    else if (path_is(r, "GET", "/appareils/nouveau"))
        devices_page(r, 1, NULL);
    else if (path_is(r, "POST", "/appareils"))
        device_add(r);
    else if (path_is(r, "GET", "/appareils/qr.png"))
        device_qr(r);
    else if (path_is(r, "POST", "/appareils/revoquer"))
        device_revoke(r);
    else if (path_is(r, "GET", "/delegues"))
        delegates_page(r, NULL);
    else if (path_is(r, "POST", "/delegues"))
        delegate_change(r, 1);
    else if (path_is(r, "POST", "/delegues/retirer"))
        delegate_change(r, 0);
    else
        return 0;
    return 1;
}
