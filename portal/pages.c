/*
 * pages - what each address of the portal shows and does.
 *
 * Every page is whole HTML without script; every form carries the
 * session's CSRF token and is checked before anything else is read.
 * Nothing secret is logged; every change is an audit_event row.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <unistr.h>

#include "authclient.h"
#include "enrol.h"
#include "msg.h"
#include "mymalloc.h"
#include "notice.h"
#include "params.h"
#include "portal.h"
#include "pwhash.h"
#include "token.h"

#define CODE_TRIES 5

static const char css[] =
    "body{font-family:system-ui,sans-serif;max-width:40rem;margin:0 auto;padding:1rem;color:#1b1b1b}"
    "header{border-bottom:3px solid #000091;margin-bottom:1rem}.brand{font-weight:bold;color:#000091}"
    "label{display:block;font-weight:600;margin-top:.8rem}"
    "input[type=text],input[type=password],input[type=email],input[type=tel]{width:100%;padding:.5rem;font-size:1rem;"
    "box-sizing:border-box}button{margin-top:1rem;padding:.5rem 1rem;font-size:1rem;background:#000091;"
    "color:#fff;border:0;cursor:pointer}button.link{background:none;color:#000091;text-decoration:underline;"
    "padding:0}.error{color:#ce0500;font-weight:600}.note{color:#3a3a3a}.ok{color:#18753c;font-weight:600}"
    "nav form{display:inline}nav a{margin-right:1rem}code.secret{font-size:1.1rem;letter-spacing:.1rem}"
    "footer{margin-top:2rem;border-top:1px solid #ddd;padding-top:.5rem;font-size:.9rem}"
    "label.inline{display:inline;font-weight:normal;margin-left:.4rem}table{border-collapse:collapse;width:100%}"
    "th,td{text-align:left;padding:.3rem;border-bottom:1px solid #ddd}fieldset{border:1px solid #ccc}"
    "dt{font-weight:600;margin-top:.5rem}dd{margin-left:0}";

/* The icon of the pages: the MSSanté blue, no third-party asset. */
static const char icon[] =
    "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 16 16\"><rect width=\"16\" height=\"16\" rx=\"3\""
    " fill=\"#000091\"/><path d=\"M4 8h8M8 4v8\" stroke=\"#fff\" stroke-width=\"2.5\"/></svg>";

/* ---------------------------------------------------------------- writing */

/* page_begin - the head of a page, the navigation of a signed-in user, the title */
void page_begin(struct req *r, const char *title)
{
    buf_printf(&r->body,
               "<!DOCTYPE html>\n<html lang=\"%s\"><head><meta charset=\"utf-8\">"
               "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>",
               r->en ? "en" : "fr");
    buf_html(&r->body, title);
    buf_printf(&r->body,
               " \xe2\x80\x93 %s</title><link rel=\"stylesheet\" href=\"/style.css\">"
               "<link rel=\"icon\" href=\"/favicon.svg\" type=\"image/svg+xml\"></head>"
               "<body><header><p class=\"brand\">%s</p>",
               T(r, "Messagerie MSSant\xc3\xa9", "MSSante mail"),
               T(r,
                 "Messagerie s\xc3\xa9"
                 "curis\xc3\xa9"
                 "e de sant\xc3\xa9",
                 "Secure health mail"));
    if (r->have_session && r->s.stage == ST_IN)
        buf_printf(&r->body,
                   "<nav><a href=\"/compte\">%s</a><a href=\"/profil\">%s</a>"
                   "<a href=\"/appareils\">%s</a><a href=\"/delegues\">%s</a>"
                   "<form method=\"post\" action=\"/deconnexion\"><input type=\"hidden\" name=\"csrf\""
                   " value=\"%s\"><button class=\"link\" type=\"submit\">%s</button></form></nav>",
                   T(r, "Mon compte", "My account"), T(r, "Mon profil", "My profile"),
                   T(r, "Mes appareils", "My devices"), T(r, "D\xc3\xa9l\xc3\xa9gu\xc3\xa9s", "Delegates"),
                   r->s.csrf,
                   T(r,
                     "Se d\xc3\xa9"
                     "connecter",
                     "Sign out"));
    buf_puts(&r->body, "</header><main><h1>");
    buf_html(&r->body, title);
    buf_puts(&r->body, "</h1>");
    if (r->have_session && r->s.flash[0]) {
        buf_puts(&r->body, "<p class=\"ok\" role=\"status\">");
        buf_html(&r->body, r->s.flash);
        buf_puts(&r->body, "</p>");
        r->s.flash[0] = '\0';
    }
}

/* page_end - the foot of a page */
void page_end(struct req *r)
{
    buf_printf(&r->body,
               "</main><footer><a href=\"/langue?l=%s\" lang=\"%s\">%s</a></footer></body></html>\n",
               r->en ? "fr" : "en", r->en ? "fr" : "en",
               r->en ? "Fran\xc3\xa7"
                       "ais"
                     : "English");
}

/* message - a paragraph of a kind (error, note, ok) */
void message(struct req *r, const char *kind, const char *text)
{
    buf_printf(&r->body, "<p class=\"%s\"%s>", kind, strcmp(kind, "error") == 0 ? " role=\"alert\"" : "");
    buf_html(&r->body, text);
    buf_puts(&r->body, "</p>");
}

/* form_begin - a POST form with the CSRF token */
void form_begin(struct req *r, const char *action)
{
    buf_printf(&r->body,
               "<form method=\"post\" action=\"%s\"><input type=\"hidden\" name=\"csrf\""
               " value=\"%s\">",
               action, r->s.csrf);
}

/* input - a labelled field */
void input(struct req *r, const char *type, const char *name, const char *label, const char *autocomplete,
           const char *value, const char *extra)
{
    buf_printf(&r->body, "<p><label for=\"%s\">", name);
    buf_html(&r->body, label);
    buf_printf(&r->body, "</label><input type=\"%s\" id=\"%s\" name=\"%s\" autocomplete=\"%s\" required%s%s",
               type, name, name, autocomplete, extra ? " " : "", extra ? extra : "");
    if (value) {
        buf_puts(&r->body, " value=\"");
        buf_html(&r->body, value);
        buf_puts(&r->body, "\"");
    }
    buf_puts(&r->body, "></p>");
}

/* form_end - the submit button and the end of the form */
void form_end(struct req *r, const char *button)
{
    buf_printf(&r->body, "<button type=\"submit\">%s</button></form>", button);
}

/* page_error - an error page with a status */
void page_error(struct req *r, int status, const char *fr, const char *en)
{
    buf_free(&r->body);
    r->status = status;
    page_begin(r, T(r, "Erreur", "Error"));
    message(r, "error", T(r, fr, en));
    buf_printf(&r->body, "<p><a href=\"/\">%s</a></p>", T(r, "Retour \xc3\xa0 l'accueil", "Back home"));
    page_end(r);
}

/* redirect - 303 to a path of ours */
void redirect(struct req *r, const char *path)
{
    r->status = 303;
    free(r->location);
    r->location = xstrdup(path);
}

/* unavailable - our own failure: the user retries later */
void unavailable(struct req *r)
{
    page_error(r, 503,
               "Service momentan\xc3\xa9ment indisponible : r\xc3\xa9"
               "essayez dans quelques minutes.",
               "Service temporarily unavailable: try again in a few minutes.");
}

/* flash - a message for the next page */
void flash(struct req *r, const char *fr, const char *en)
{
    snprintf(r->s.flash, sizeof(r->s.flash), "%s", T(r, fr, en));
}

/* audit - an audit_event row of the portal */
void audit(struct req *r, const char *actor, const char *action, const char *result, const char *detail)
{
    const char *p[5] = {actor, action, r->client[0] ? r->client : NULL, result, detail};
    PGresult *res = dbq("INSERT INTO audit_event (actor, action, service, remote_ip, result, detail)"
                        " VALUES ($1, $2, 'portal', $3::inet, $4, $5)",
                        5, p);

    if (res == NULL)
        msg_error("%s %s: the audit row is lost", actor, action);
    PQclear(res);
}

/* ---------------------------------------------------------------- rules */

/* password_problem - why a new password is refused, or NULL */
const char *password_problem(struct req *r, const char *pw, const char *confirm, const char *login,
                             const char *current)
{
    int lower = 0, upper = 0, digit = 0, other = 0;

    if (pw == NULL || confirm == NULL || *pw == '\0')
        return T(r, "Choisissez un mot de passe.", "Choose a password.");
    if (strcmp(pw, confirm) != 0)
        return T(r, "Les deux saisies du mot de passe diff\xc3\xa8rent.", "The two passwords differ.");
    if (strlen(pw) > 256 ||
        u8_mbsnlen((const uint8_t *) pw, strlen(pw)) < (size_t) var_portal_password_min_length)
        return T(r, "Le mot de passe est trop court.", "The password is too short.");
    for (const char *p = pw; *p; p++) {
        unsigned char c = (unsigned char) *p;

        lower |= c >= 'a' && c <= 'z';
        upper |= c >= 'A' && c <= 'Z';
        digit |= c >= '0' && c <= '9';
        other |= !(c >= 'a' && c <= 'z') && !(c >= 'A' && c <= 'Z') && !(c >= '0' && c <= '9');
    }
    if (lower + upper + digit + other < 3)
        return T(r, "Le mot de passe m\xc3\xaale au moins trois sortes de caract\xc3\xa8res.",
                 "The password mixes at least three kinds of characters.");
    if (login && strlen(login) >= 3 && strcasestr(pw, login) != NULL)
        return T(r, "Le mot de passe ne contient pas votre identifiant.",
                 "The password does not contain your login.");
    if (current && pwhash_same(pw, current))
        return T(r, "Choisissez un mot de passe diff\xc3\xa9rent de l'actuel.",
                 "Choose a password other than the current one.");
    return NULL;
}

/* new_hash - the stored form of a new password */
char *new_hash(struct req *r, const char *pw)
{
    char *err = NULL, *hash = pwhash_hash(pw, &err);

    if (hash == NULL) {
        msg_error("%s: %s", r->s.login, err);
        free(err);
        unavailable(r);
    }
    return hash;
}

/* password_rules - the rules, as the page states them */
void password_rules(struct req *r)
{
    char line[300];

    snprintf(line, sizeof(line),
             T(r,
               "Au moins %ld caract\xc3\xa8res, dont trois sortes parmi minuscules,"
               " majuscules, chiffres et autres signes ; sans votre identifiant ;"
               " diff\xc3\xa9rent du mot de passe actuel.",
               "At least %ld characters, of three kinds among lower case, upper case,"
               " digits and other signs; without your login; not the current password."),
             var_portal_password_min_length);
    message(r, "note", line);
}

/* ---------------------------------------------------------------- sign-in */

/* set_account - the account of a login into the session; 0, -1 (none), -2 (database) */
static int set_account(struct req *r, const char *login)
{
    const char *p[1] = {login};
    PGresult *res = dbq("SELECT id, login FROM account WHERE login = lower($1)", 1, p);
    int ret = -2;

    if (res != NULL) {
        ret = PQntuples(res) == 1 ? 0 : -1;
        if (ret == 0) {
            snprintf(r->s.account_id, sizeof(r->s.account_id), "%s", PQgetvalue(res, 0, 0));
            snprintf(r->s.login, sizeof(r->s.login), "%s", PQgetvalue(res, 0, 1));
        }
        PQclear(res);
    }
    return ret;
}

/* enter - the session becomes a signed-in one (new cookie) */
static void enter(struct req *r, enum stage stage)
{
    OPENSSL_cleanse(r->s.password, sizeof(r->s.password));
    r->s.stage = stage;
    r->s.signed_in = time(NULL);
    r->s.code_tries = 0;
    r->rotate = 1;
    random_hex(r->s.csrf, 32);
}

/* ask_dovecot - credentials to the passdb through Dovecot; -1 when it could not be asked */
int ask_dovecot(struct req *r, const char *login, const char *password, const char *forward,
                struct authc_reply *rep)
{
    char *err = NULL;

    if (authc_plain_fwd(var_portal_auth_socket, OTP_PORTAL_SERVICE, login, password,
                        r->client[0] ? r->client : NULL, forward, 30, rep, &err) < 0) {
        msg_error("sign-in: Dovecot's auth service cannot be asked: %s", err);
        free(err);
        return -1;
    }
    if (rep->status == AUTHC_TEMPFAIL) {
        msg_warn("sign-in of %s: Dovecot answered a temporary failure", login);
        authc_free(rep);
        return -1;
    }
    return 0;
}

/* is_code - whether a form value is a 6-digit code */
int is_code(const char *code)
{
    return code != NULL && strlen(code) == OTP_DIGITS && strspn(code, "0123456789") == OTP_DIGITS;
}

/* ask_with_code - the session's password and code to the passdb */
int ask_with_code(struct req *r, const char *code)
{
    char both[sizeof(r->s.password) + OTP_DIGITS + 1];
    struct authc_reply rep;
    int asked;

    snprintf(both, sizeof(both), "%s%s", r->s.password, code);
    asked = ask_dovecot(r, r->s.login, both, OTP_PORTAL_CHECK "=code", &rep);
    OPENSSL_cleanse(both, sizeof(both));
    if (asked < 0)
        return -1;
    asked = rep.status == AUTHC_OK;
    authc_free(&rep);
    return asked;
}

/* page_qr - a QR code of text as the answer (a PNG) */
void page_qr(struct req *r, const char *text)
{
    if ((r->bin = enrol_qr_png(text, &r->binlen)) == NULL) {
        page_error(r, 500, "Erreur interne.", "Internal error.");
        return;
    }
    r->ctype = "image/png";
}

/* login_form - the sign-in page */
static void login_form(struct req *r, const char *error, const char *login)
{
    session_ensure(r);
    r->s.stage = ST_ANON;
    page_begin(r, T(r, "Authentification", "Sign in"));
    if (error)
        message(r, "error", error);
    form_begin(r, "/connexion");
    input(r, "text", "login", T(r, "Identifiant (prenom.nom)", "Login (firstname.lastname)"), "username",
          login, "autofocus");
    input(r, "password", "password", T(r, "Mot de passe", "Password"), "current-password", NULL, NULL);
    form_end(r, T(r, "Se connecter", "Sign in"));
    buf_printf(
        &r->body, "<p><a href=\"/oubli\">%s</a></p>",
        T(r, "Mot de passe oubli\xc3\xa9 / Premi\xc3\xa8re connexion", "Forgotten password / First login"));
    page_end(r);
}

/* sign_in - POST /connexion: the password, then the code page or the channel */
static void sign_in(struct req *r)
{
    const char *login = form_get(&r->form, "login"), *pw = form_get(&r->form, "password");
    struct authc_reply rep;
    const char *o;

    if (login == NULL || pw == NULL || *login == '\0' || *pw == '\0' || strlen(login) >= sizeof(r->s.login) ||
        strlen(pw) >= sizeof(r->s.password) || strpbrk(login, "*\t\r\n") != NULL) {
        login_form(
            r, T(r, "Saisissez votre identifiant et votre mot de passe.", "Enter your login and password."),
            login && strlen(login) < 128 ? login : NULL);
        return;
    }
    if (ask_dovecot(r, login, pw, NULL, &rep) < 0) {
        unavailable(r);
        return;
    }
    o = rep.outcome ? rep.outcome : "";
    if (rep.status == AUTHC_OK || strcmp(o, "code-needed") == 0 || strcmp(o, "code-sent") == 0 ||
        strcmp(o, "no-second-factor") == 0) {
        int found = set_account(r, rep.login ? rep.login : login);

        if (found < 0) {
            authc_free(&rep);
            unavailable(r);
            return;
        }
        if (rep.status == AUTHC_OK) {
            enter(r, ST_IN);
            msg_info("%s signed in from %s", r->s.login, r->client);
            redirect(r, "/compte");
        } else if (strcmp(o, "no-second-factor") == 0) {
            enter(r, ST_ENROL);
            msg_info("%s signed in from %s to choose a second factor", r->s.login, r->client);
            redirect(r, "/canal");
        } else {
            r->s.stage = ST_CODE;
            r->s.email_channel = strcmp(o, "code-sent") == 0;
            r->s.code_tries = 0;
            snprintf(r->s.password, sizeof(r->s.password), "%s", pw);
            r->rotate = 1;
            redirect(r, "/code");
        }
    } else if (strcmp(o, "pending") == 0) {
        login_form(
            r,
            T(r,
              "Ce compte n'est pas encore activ\xc3\xa9 : suivez le lien d'activation envoy\xc3\xa9"
              " \xc3\xa0 votre adresse de contact, ou demandez-en un nouveau (Premi\xc3\xa8re connexion).",
              "This account is not activated yet: follow the activation link sent to your contact"
              " address, or ask for a new one (First login)."),
            login);
    } else if (strcmp(o, "no-contact") == 0) {
        login_form(r,
                   T(r,
                     "Aucune adresse de contact pour recevoir le code : adressez-vous \xc3\xa0 votre"
                     " administrateur.",
                     "No contact address to send the code to: ask your administrator."),
                   login);
    } else if (strcmp(o, "bal-disabled") == 0) {
        login_form(r,
                   T(r,
                     "Votre bo\xc3\xaete aux lettres est d\xc3\xa9sactiv\xc3\xa9"
                     "e.",
                     "Your mailbox is disabled."),
                   login);
    } else {
        login_form(r, T(r, "Identifiant ou mot de passe incorrect.", "Wrong login or password."), login);
    }
    authc_free(&rep);
}

/* page_code - a page asking for the one-time code */
void page_code(struct req *r, const char *title, const char *action, const char *error)
{
    page_begin(r, title);
    if (error)
        message(r, "error", error);
    message(r, "note",
            r->s.email_channel
                ? T(r, "Un code vient d'\xc3\xaatre envoy\xc3\xa9 \xc3\xa0 votre adresse de contact.",
                    "A code was just sent to your contact address.")
                : T(r, "Saisissez le code \xc3\xa0 6 chiffres affich\xc3\xa9 par votre application.",
                    "Enter the 6-digit code your app shows."));
    form_begin(r, action);
    input(r, "text", "code", T(r, "Code", "Code"), "one-time-code", NULL,
          "inputmode=\"numeric\" pattern=\"[0-9]{6}\" maxlength=\"6\" autofocus");
    form_end(r, T(r, "Valider", "Confirm"));
    page_end(r);
}

/* code_form - the one-time code page of a sign-in */
static void code_form(struct req *r, const char *error)
{
    if (!r->have_session || r->s.stage != ST_CODE) {
        redirect(r, "/connexion");
        return;
    }
    page_code(r, T(r, "Mot de passe unique", "One-time code"), "/code", error);
}

/* code_submit - POST /code: password and code, together, to the passdb */
static void code_submit(struct req *r)
{
    const char *code = form_get(&r->form, "code");
    int asked;

    if (r->s.stage != ST_CODE) {
        redirect(r, "/connexion");
        return;
    }
    if (!is_code(code)) {
        code_form(r, T(r, "Le code a 6 chiffres.", "The code has 6 digits."));
        return;
    }
    if (++r->s.code_tries > CODE_TRIES) {
        login_form(
            r, T(r, "Trop de codes incorrects : reconnectez-vous.", "Too many wrong codes: sign in again."),
            r->s.login);
        OPENSSL_cleanse(r->s.password, sizeof(r->s.password));
        return;
    }
    if ((asked = ask_with_code(r, code)) < 0) {
        unavailable(r);
        return;
    }
    if (asked) {
        enter(r, ST_IN);
        msg_info("%s signed in from %s", r->s.login, r->client);
        redirect(r, "/compte");
    } else {
        code_form(r, T(r, "Code incorrect ou d\xc3\xa9j\xc3\xa0 utilis\xc3\xa9.", "Wrong or used code."));
    }
}

/* ---------------------------------------------------------------- account */

/* account_page - GET /compte */
static void account_page(struct req *r)
{
    const char *p[1] = {r->s.account_id};
    PGresult *res =
        dbq("SELECT coalesce(first_name, ''), coalesce(last_name, ''), otp_method,"
            " coalesce(contact_email, ''), (SELECT string_agg(x.bal || CASE x.role WHEN 'delegate'"
            " THEN ' (d\xc3\xa9l\xc3\xa9gu\xc3\xa9)' ELSE '' END, ', ' ORDER BY x.bal)"
            " FROM bal_access x WHERE x.account_id = a.id) FROM account a WHERE id = $1",
            1, p);
    const char *method;

    if (res == NULL || PQntuples(res) != 1) {
        PQclear(res);
        unavailable(r);
        return;
    }
    method = PQgetvalue(res, 0, 2);
    page_begin(r, T(r, "Mon compte", "My account"));
    buf_puts(&r->body, "<dl><dt>");
    buf_puts(&r->body, T(r, "Titulaire", "Holder"));
    buf_puts(&r->body, "</dt><dd>");
    buf_html(&r->body, PQgetvalue(res, 0, 0));
    buf_puts(&r->body, " ");
    buf_html(&r->body, PQgetvalue(res, 0, 1));
    buf_printf(&r->body, "</dd><dt>%s</dt><dd id=\"login\">", T(r, "Identifiant", "Login"));
    buf_html(&r->body, r->s.login);
    buf_printf(&r->body, "</dd><dt>%s</dt><dd>", T(r, "Bo\xc3\xaetes aux lettres", "Mailboxes"));
    buf_html(&r->body, PQgetvalue(res, 0, 4));
    buf_printf(&r->body, "</dd><dt>%s</dt><dd id=\"channel\">%s</dd><dt>%s</dt><dd>",
               T(r, "Second facteur", "Second factor"),
               strcmp(method, "totp") == 0    ? T(r, "application d'authentification", "authenticator app")
               : strcmp(method, "email") == 0 ? T(r, "code par e-mail", "code by e-mail")
                                              : T(r, "aucun", "none"),
               T(r, "Adresse de contact", "Contact address"));
    buf_html(&r->body, PQgetvalue(res, 0, 3));
    buf_puts(&r->body, "</dd></dl>");
    page_end(r);
    PQclear(res);
}

/* sign_out - POST /deconnexion */
static void sign_out(struct req *r)
{
    if (r->s.stage != ST_ANON)
        msg_info("%s signed out", r->s.login);
    r->drop = 1;
    redirect(r, "/connexion");
}

/* ---------------------------------------------------------------- the code channel */

/* channel_page - GET /canal: the choice, or the enrolment under way */
static void channel_page(struct req *r, const char *error)
{
    page_begin(r, T(r,
                    "Canal de t\xc3\xa9l\xc3\xa9"
                    "communication",
                    "Code channel"));
    if (error)
        message(r, "error", error);
    if (r->s.stage == ST_ENROL)
        message(r, "note",
                T(r,
                  "Choisissez comment vous recevrez vos codes de connexion : c'est obligatoire"
                  " pour ouvrir votre messagerie.",
                  "Choose how you will receive your login codes:"
                  " your mail opens only once this is done."));
    if (r->s.enrol_method == 't') {
        unsigned char secret[OTP_SECRET_LEN];
        char *b32;

        if (otp_open(portal_key, r->s.login, r->s.enrol_sealed, OTP_SEALED_LEN, secret) < 0) {
            page_error(r, 500, "Erreur interne.", "Internal error.");
            return;
        }
        b32 = otp_base32(secret, sizeof(secret));
        OPENSSL_cleanse(secret, sizeof(secret));
        buf_printf(&r->body,
                   "<h2>%s</h2><p>%s</p><p><img src=\"/canal/qr.png\" width=\"264\" alt=\"%s\"></p>"
                   "<p>%s <code class=\"secret\" id=\"secret\">%s</code></p>",
                   T(r, "Application d'authentification", "Authenticator app"),
                   T(r,
                     "Scannez ce QR code avec votre application (FreeOTP, Google Authenticator, ...),"
                     " puis saisissez le code qu'elle affiche.",
                     "Scan this QR code with your app (FreeOTP,"
                     " Google Authenticator, ...), then enter the code it shows."),
                   T(r, "QR code de votre compte", "QR code of your account"),
                   T(r, "Ou saisissez cette cl\xc3\xa9 :", "Or enter this key:"), b32);
        OPENSSL_cleanse(b32, strlen(b32));
        free(b32);
    } else if (r->s.enrol_method == 'e') {
        buf_printf(&r->body, "<h2>%s</h2>", T(r, "Code par e-mail", "Code by e-mail"));
        message(r, "note",
                T(r,
                  "Un code vient d'\xc3\xaatre envoy\xc3\xa9 \xc3\xa0 votre adresse de contact :"
                  " saisissez-le pour confirmer.",
                  "A code was sent to your contact address:"
                  " enter it to confirm."));
    }
    if (r->s.enrol_method) {
        form_begin(r, "/canal/confirmer");
        input(r, "text", "code", T(r, "Code", "Code"), "one-time-code", NULL,
              "inputmode=\"numeric\" pattern=\"[0-9]{6}\" maxlength=\"6\" autofocus");
        form_end(r, T(r, "Valider", "Confirm"));
        buf_printf(&r->body, "<h2>%s</h2>", T(r, "Ou choisir un autre canal", "Or choose another channel"));
    }
    form_begin(r, "/canal");
    buf_printf(&r->body,
               "<fieldset><legend>%s</legend>"
               "<p><input type=\"radio\" id=\"m-totp\" name=\"method\" value=\"totp\" checked>"
               "<label for=\"m-totp\" class=\"inline\">%s</label></p>"
               "<p><input type=\"radio\" id=\"m-email\" name=\"method\" value=\"email\">"
               "<label for=\"m-email\" class=\"inline\">%s</label></p></fieldset>",
               T(r, "Recevoir mes codes", "Receive my codes"),
               T(r, "par une application d'authentification (recommand\xc3\xa9)",
                 "from an authenticator app"
                 " (recommended)"),
               T(r, "par e-mail \xc3\xa0 mon adresse de contact", "by e-mail to my contact address"));
    form_end(r, T(r, "Tester", "Test"));
    page_end(r);
}

/* contact_of - the contact address of the session's account (malloc'd) or NULL; -1 on error */
static int contact_of(struct req *r, char **out)
{
    const char *p[1] = {r->s.account_id};
    PGresult *res = dbq("SELECT contact_email FROM account WHERE id = $1", 1, p);

    *out = NULL;
    if (res == NULL)
        return -1;
    if (PQntuples(res) == 1 && !PQgetisnull(res, 0, 0) && *PQgetvalue(res, 0, 0))
        *out = xstrdup(PQgetvalue(res, 0, 0));
    PQclear(res);
    return 0;
}

/* channel_choose - POST /canal: a new secret to scan, or a code mailed */
static void channel_choose(struct req *r)
{
    const char *method = form_get(&r->form, "method");

    r->s.enrol_method = 0;
    r->s.enrol_tries = 0;
    if (!portal_have_key) {
        unavailable(r);
        return;
    }
    if (method && strcmp(method, "totp") == 0) {
        unsigned char secret[OTP_SECRET_LEN];

        if (RAND_bytes(secret, sizeof(secret)) != 1 ||
            otp_seal(portal_key, r->s.login, secret, r->s.enrol_sealed) < 0) {
            unavailable(r);
            return;
        }
        OPENSSL_cleanse(secret, sizeof(secret));
        r->s.enrol_method = 't';
    } else if (method && strcmp(method, "email") == 0) {
        char code[OTP_DIGITS + 1], *contact, *err = NULL;
        char *body;
        char key[160];

        if (contact_of(r, &contact) < 0) {
            unavailable(r);
            return;
        }
        if (contact == NULL) {
            channel_page(r, T(r,
                              "Aucune adresse de contact n'est enregistr\xc3\xa9"
                              "e.",
                              "No contact address"
                              " is recorded."));
            return;
        }
        snprintf(key, sizeof(key), "mail:%s", r->s.login);
        if (!rate_ok(key, var_portal_mail_rate_limit, 3600)) {
            free(contact);
            channel_page(r, T(r,
                              "Trop de messages envoy\xc3\xa9s : r\xc3\xa9"
                              "essayez dans une heure.",
                              "Too many messages sent: try again in an hour."));
            return;
        }
        if (otp_random_code(code) < 0 ||
            otp_code_hash(portal_key, r->s.login, code, r->s.enrol_code_hash) < 0) {
            free(contact);
            unavailable(r);
            return;
        }
        body = xasprintf("Votre code de confirmation MSSant\xc3\xa9 : %s\n\nIl est valable %ld minutes."
                         " Si vous n'avez rien demand\xc3\xa9, ignorez ce message.\n",
                         code, var_otp_email_validity / 60);
        OPENSSL_cleanse(code, sizeof(code));
        if (notice_send(var_otp_sendmail, var_otp_email_sender, contact,
                        "Code de confirmation MSSant\xc3\xa9", body, &err) < 0) {
            msg_error("%s: the confirmation code was not sent: %s", r->s.login, err);
            free(err);
            OPENSSL_cleanse(body, strlen(body));
            free(body);
            free(contact);
            unavailable(r);
            return;
        }
        OPENSSL_cleanse(body, strlen(body));
        free(body);
        free(contact);
        r->s.enrol_expires = time(NULL) + var_otp_email_validity;
        r->s.enrol_method = 'e';
    }
    redirect(r, "/canal");
}

/* channel_qr - GET /canal/qr.png: the secret under way as a QR code */
static void channel_qr(struct req *r)
{
    unsigned char secret[OTP_SECRET_LEN];
    char *uri;

    if (r->s.enrol_method != 't' ||
        otp_open(portal_key, r->s.login, r->s.enrol_sealed, OTP_SEALED_LEN, secret) < 0) {
        page_error(r, 404, "Aucun enr\xc3\xb4lement en cours.", "No enrolment under way.");
        return;
    }
    uri = enrol_uri(r->s.login, secret);
    OPENSSL_cleanse(secret, sizeof(secret));
    page_qr(r, uri);
    OPENSSL_cleanse(uri, strlen(uri));
    free(uri);
}

/* channel_confirm - POST /canal/confirmer: the first code proves the channel works */
static void channel_confirm(struct req *r)
{
    const char *code = form_get(&r->form, "code");
    int ok = 0;

    if (r->s.enrol_method == 0) {
        redirect(r, "/canal");
        return;
    }
    if (!is_code(code)) {
        channel_page(r, T(r, "Le code a 6 chiffres.", "The code has 6 digits."));
        return;
    }
    if (++r->s.enrol_tries > CODE_TRIES) {
        r->s.enrol_method = 0;
        channel_page(r,
                     T(r, "Trop de codes incorrects : recommencez.", "Too many wrong codes: start again."));
        return;
    }
    if (r->s.enrol_method == 't') {
        unsigned char secret[OTP_SECRET_LEN];
        long step = 0;
        char *err = NULL;

        if (otp_open(portal_key, r->s.login, r->s.enrol_sealed, OTP_SEALED_LEN, secret) == 0)
            step = otp_totp_match(secret, sizeof(secret), code, time(NULL), 0);
        OPENSSL_cleanse(secret, sizeof(secret));
        if (step > 0) {
            if (db() == NULL ||
                enrol_totp_confirm(db(), r->s.account_id, r->s.enrol_sealed, OTP_SEALED_LEN, step, r->s.login,
                                   "portal", r->client[0] ? r->client : NULL, &err) < 0) {
                msg_error("%s: enrolment not stored: %s", r->s.login, err ? err : "no database");
                free(err);
                unavailable(r);
                return;
            }
            ok = 1;
        }
    } else {
        char hash[65];
        const char *p[1] = {r->s.account_id};
        PGresult *res;

        if (time(NULL) <= r->s.enrol_expires && otp_code_hash(portal_key, r->s.login, code, hash) == 0 &&
            otp_hex_equal(hash, r->s.enrol_code_hash)) {
            if ((res = dbq("UPDATE account SET otp_method = 'email' WHERE id = $1", 1, p)) == NULL) {
                unavailable(r);
                return;
            }
            PQclear(res);
            audit(r, r->s.login, "otp-confirm", "ok", "email");
            ok = 1;
        }
    }
    if (!ok) {
        channel_page(r, T(r,
                          "Code incorrect : v\xc3\xa9rifiez l'heure de votre t\xc3\xa9l\xc3\xa9phone ou"
                          " le dernier message re\xc3\xa7u.",
                          "Wrong code: check your phone's clock or the"
                          " last message received."));
        return;
    }
    msg_info("%s: second factor %s confirmed", r->s.login, r->s.enrol_method == 't' ? "totp" : "email");
    OPENSSL_cleanse(r->s.enrol_sealed, sizeof(r->s.enrol_sealed));
    r->s.enrol_method = 0;
    if (r->s.stage == ST_ENROL)
        enter(r, ST_IN);
    flash(r, "Votre second facteur est activ\xc3\xa9.", "Your second factor is active.");
    redirect(r, "/compte");
}

/* ---------------------------------------------------------------- links */

/*
 * link_account - the account of a live link of kind (in the session, or
 * ?t=); its id, login, state and current password hash. NULL when the link
 * is unknown, spent or late; *dberr on a database failure.
 */
static PGresult *link_account(struct req *r, const char *kind, int *dberr)
{
    const char *p[2] = {r->s.token_hash, kind};
    PGresult *res =
        dbq("SELECT a.id, a.login, a.state, a.password FROM portal_token t JOIN account a"
            " ON a.id = t.account_id WHERE t.token_hash = $1 AND t.kind = $2 AND t.used_at IS NULL"
            " AND t.expires_at > now() AND a.state = CASE $2 WHEN 'activation' THEN 'pending'"
            " ELSE 'active' END",
            2, p);

    *dberr = res == NULL;
    if (res != NULL && PQntuples(res) != 1) {
        PQclear(res);
        res = NULL;
    }
    return res;
}

/* link_arrive - GET with ?t=: keep the token's digest in the session, drop it from the address */
static int link_arrive(struct req *r, const char *kind, const char *path)
{
    if (r->query_t == NULL)
        return 0;
    session_ensure(r);
    if (strlen(r->query_t) == TOKEN_HEX_LEN && strspn(r->query_t, "0123456789abcdef") == TOKEN_HEX_LEN)
        token_hash(r->query_t, r->s.token_hash);
    else
        memset(r->s.token_hash, 0, sizeof(r->s.token_hash));
    snprintf(r->s.token_kind, sizeof(r->s.token_kind), "%s", kind);
    redirect(r, path);
    return 1;
}

/* link_dead - the page of an unknown, spent or late link */
static void link_dead(struct req *r)
{
    page_error(
        r, 410,
        "Ce lien n'est pas valable : il a d\xc3\xa9j\xc3\xa0 servi ou il a expir\xc3\xa9."
        " Demandez-en un nouveau depuis \xc2\xab Mot de passe oubli\xc3\xa9 / Premi\xc3\xa8re connexion \xc2\xbb.",
        "This link is not valid: it was used already or it expired. Ask for a new one from"
        " \"Forgotten password / First login\".");
}

/* password_form - the new password page of a link */
static void password_form(struct req *r, const char *action, const char *title, const char *error, int terms)
{
    page_begin(r, title);
    if (error)
        message(r, "error", error);
    buf_printf(&r->body, "<p>%s <strong>", T(r, "Identifiant :", "Login:"));
    buf_html(&r->body, r->s.login);
    buf_puts(&r->body, "</strong></p>");
    password_rules(r);
    form_begin(r, action);
    input(r, "password", "password", T(r, "Nouveau mot de passe", "New password"), "new-password", NULL,
          NULL);
    input(r, "password", "confirm", T(r, "Confirmation du mot de passe", "Confirm the password"),
          "new-password", NULL, NULL);
    if (terms)
        buf_printf(&r->body,
                   "<p><input type=\"checkbox\" id=\"terms\" name=\"terms\" value=\"yes\" required>"
                   "<label for=\"terms\" class=\"inline\">%s</label></p>",
                   T(r,
                     "J'accepte les conditions g\xc3\xa9n\xc3\xa9rales d'utilisation de la messagerie"
                     " s\xc3\xa9"
                     "curis\xc3\xa9"
                     "e de sant\xc3\xa9 (usage professionnel, confidentialit\xc3\xa9"
                     " des \xc3\xa9"
                     "changes, tra\xc3\xa7"
                     "abilit\xc3\xa9 des connexions).",
                     "I accept the terms of use of the secure health mail (professional use, confidential"
                     " exchanges, logins traced)."));
    form_end(r, T(r, "Valider", "Confirm"));
    page_end(r);
}

/* link_page - GET /activation or /reinitialisation */
static void link_page(struct req *r, const char *kind)
{
    int act = strcmp(kind, "activation") == 0, dberr;
    PGresult *res;

    if (link_arrive(r, kind, act ? "/activation" : "/reinitialisation"))
        return;
    if (!r->have_session || strcmp(r->s.token_kind, kind) != 0) {
        link_dead(r);
        return;
    }
    if ((res = link_account(r, kind, &dberr)) == NULL) {
        if (dberr)
            unavailable(r);
        else
            link_dead(r);
        return;
    }
    snprintf(r->s.login, sizeof(r->s.login), "%s", PQgetvalue(res, 0, 1));
    PQclear(res);
    password_form(r, act ? "/activation" : "/reinitialisation",
                  act ? T(r, "Activation de votre compte", "Activate your account")
                      : T(r, "Nouveau mot de passe", "New password"),
                  NULL, act);
}

/* link_submit - POST /activation or /reinitialisation: the new password */
static void link_submit(struct req *r, const char *kind)
{
    int act = strcmp(kind, "activation") == 0, dberr;
    const char *pw = form_get(&r->form, "password"), *confirm = form_get(&r->form, "confirm"), *why;
    PGresult *res, *upd;
    char *hash, id[24];

    if (strcmp(r->s.token_kind, kind) != 0 || (res = link_account(r, kind, &dberr)) == NULL) {
        if (strcmp(r->s.token_kind, kind) == 0 && dberr)
            unavailable(r);
        else
            link_dead(r);
        return;
    }
    snprintf(r->s.login, sizeof(r->s.login), "%s", PQgetvalue(res, 0, 1));
    snprintf(id, sizeof(id), "%s", PQgetvalue(res, 0, 0));
    why = password_problem(r, pw, confirm, r->s.login, PQgetvalue(res, 0, 3));
    PQclear(res);
    if (why == NULL && act &&
        (form_get(&r->form, "terms") == NULL || strcmp(form_get(&r->form, "terms"), "yes") != 0))
        why = T(r, "Acceptez les conditions d'utilisation pour activer le compte.",
                "Accept the terms of use to activate the account.");
    if (why != NULL) {
        password_form(r, act ? "/activation" : "/reinitialisation",
                      act ? T(r, "Activation de votre compte", "Activate your account")
                          : T(r, "Nouveau mot de passe", "New password"),
                      why, act);
        return;
    }
    if ((hash = new_hash(r, pw)) == NULL)
        return;
    {
        const char *p[5] = {r->s.token_hash, id, hash, var_portal_terms_version, kind};

        /* The link is spent by the same statement that uses it: twice, and the second finds nothing. */
        upd =
            dbq("WITH t AS (UPDATE portal_token SET used_at = now() WHERE token_hash = $1 AND account_id = $2"
                "  AND used_at IS NULL AND expires_at > now() RETURNING account_id)"
                " UPDATE account a SET password = $3, password_changed_at = now(),"
                "  state = CASE WHEN $5 = 'activation' THEN 'active' ELSE a.state END,"
                "  terms_accepted_at = CASE WHEN $5 = 'activation' THEN now() ELSE a.terms_accepted_at END,"
                "  terms_version = CASE WHEN $5 = 'activation' THEN $4 ELSE a.terms_version END"
                " FROM t WHERE a.id = t.account_id",
                5, p);
    }
    OPENSSL_cleanse(hash, strlen(hash));
    free(hash);
    if (upd == NULL) {
        unavailable(r);
        return;
    }
    if (atol(PQcmdTuples(upd)) != 1) {
        PQclear(upd);
        link_dead(r);
        return;
    }
    PQclear(upd);
    audit(r, r->s.login, act ? "portal-activate" : "portal-password-reset", "ok",
          act ? var_portal_terms_version : NULL);
    msg_info("%s: %s from %s", r->s.login, act ? "account activated" : "password reset", r->client);
    memset(r->s.token_hash, 0, sizeof(r->s.token_hash));
    r->s.token_kind[0] = '\0';
    if (act) {
        snprintf(r->s.account_id, sizeof(r->s.account_id), "%s", id);
        enter(r, ST_ENROL);
        redirect(r, "/canal");
    } else {
        r->s.stage = ST_ANON;
        r->rotate = 1;
        flash(r, "Votre mot de passe est chang\xc3\xa9 : connectez-vous.",
              "Your password is changed: sign in.");
        redirect(r, "/connexion");
    }
}

/* ---------------------------------------------------------------- forgotten password */

/* forgot_form - GET /oubli */
static void forgot_form(struct req *r, const char *note)
{
    session_ensure(r);
    page_begin(r, T(r, "Mot de passe oubli\xc3\xa9 / Premi\xc3\xa8re connexion",
                    "Forgotten password / First login"));
    if (note)
        message(r, "ok", note);
    message(r, "note",
            T(r,
              "Saisissez votre identifiant et votre adresse de contact : un lien vous y sera"
              " envoy\xc3\xa9 pour choisir votre mot de passe.",
              "Enter your login and your contact"
              " address: a link to choose your password will be sent there."));
    form_begin(r, "/oubli");
    input(r, "text", "login", T(r, "Identifiant (prenom.nom)", "Login (firstname.lastname)"), "username",
          NULL, NULL);
    input(r, "email", "contact", T(r, "Adresse de contact", "Contact address"), "email", NULL, NULL);
    form_end(r, T(r, "Envoyer le lien", "Send the link"));
    page_end(r);
}

/* A message to send away from the request (its time says nothing). */
struct mailing {
    char *rcpt, *subject, *body;
    char kind[16], token[TOKEN_HEX_LEN + 1], url[512]; /* or a link */
    long validity;
};

/* mail_thread - send one message or link */
static void *mail_thread(void *arg)
{
    struct mailing *m = arg;
    char *err = NULL;
    int ret = m->body
                  ? notice_send(var_otp_sendmail, var_otp_email_sender, m->rcpt, m->subject, m->body, &err)
                  : token_mail(m->kind, m->url, m->token, m->validity, m->rcpt, &err);

    if (ret < 0) {
        msg_error("a message to a contact address was not sent: %s", err);
        free(err);
    }
    if (m->body)
        OPENSSL_cleanse(m->body, strlen(m->body));
    free(m->rcpt);
    free(m->subject);
    free(m->body);
    OPENSSL_cleanse(m, sizeof(*m));
    free(m);
    return NULL;
}

/* send_later - a thread for the message */
static void send_later(struct mailing *m)
{
    pthread_t th;

    if (pthread_create(&th, NULL, mail_thread, m) != 0)
        mail_thread(m);
    else
        pthread_detach(th);
}

/* mail_later - a short message to an address, sent by a thread of its own */
void mail_later(const char *rcpt, const char *subject, const char *body)
{
    struct mailing *m = xcalloc(1, sizeof(*m));

    m->rcpt = xstrdup(rcpt);
    m->subject = xstrdup(subject);
    m->body = xstrdup(body);
    send_later(m);
}

/* forgot_submit - POST /oubli: the same answer whether or not the pair exists */
static void forgot_submit(struct req *r)
{
    const char *login = form_get(&r->form, "login"), *contact = form_get(&r->form, "contact");
    const char *p[2] = {login, contact};
    char key[160];
    PGresult *res;

    if (login == NULL || contact == NULL || *login == '\0' || *contact == '\0' || strlen(login) > 127 ||
        strlen(contact) > 254) {
        forgot_form(r, NULL);
        return;
    }
    snprintf(key, sizeof(key), "mail:%s", login);
    if (!rate_ok(key, var_portal_mail_rate_limit, 3600)) {
        msg_warn("forgotten password of %s from %s: more than %ld an hour, nothing sent", login, r->client,
                 var_portal_mail_rate_limit);
    } else if ((res = dbq("SELECT id, state, contact_email, login FROM account WHERE login = lower($1)"
                          " AND lower(contact_email) = lower($2) AND state IN ('active', 'pending')",
                          2, p)) == NULL) {
        unavailable(r);
        return;
    } else {
        if (PQntuples(res) == 1) {
            int act = strcmp(PQgetvalue(res, 0, 1), "pending") == 0;
            struct mailing *m = xcalloc(1, sizeof(*m));
            char *err = NULL, *tok;

            m->validity = act ? var_portal_activation_validity : var_portal_reset_validity;
            snprintf(m->kind, sizeof(m->kind), "%s", act ? "activation" : "reset");
            if ((tok = token_new(db(), PQgetvalue(res, 0, 0), m->kind, m->validity, &err)) == NULL) {
                msg_error("%s: no link: %s", login, err);
                free(err);
                free(m);
                PQclear(res);
                unavailable(r);
                return;
            }
            snprintf(m->token, sizeof(m->token), "%s", tok);
            m->rcpt = xstrdup(PQgetvalue(res, 0, 2));
            snprintf(m->url, sizeof(m->url), "%s", var_portal_url);
            OPENSSL_cleanse(tok, strlen(tok));
            free(tok);
            audit(r, PQgetvalue(res, 0, 3), act ? "portal-activation-link" : "portal-reset-link", "ok", NULL);
            send_later(m);
        } else {
            audit(r, login, "portal-reset-link", "unknown", NULL);
        }
        PQclear(res);
    }
    forgot_form(r, T(r,
                     "Si ces informations correspondent \xc3\xa0 un compte, un lien vient d'\xc3\xaatre"
                     " envoy\xc3\xa9 \xc3\xa0 l'adresse de contact.",
                     "If these match an account, a link was"
                     " just sent to the contact address."));
}

/* ---------------------------------------------------------------- autoconfiguration */

/* server_part - host and port of "host:port" */
static int server_part(const char *spec, char *host, size_t hlen, char *port, size_t plen)
{
    const char *colon = strrchr(spec, ':');

    if (colon == NULL || colon == spec || (size_t) (colon - spec) >= hlen || strlen(colon + 1) >= plen ||
        strspn(colon + 1, "0123456789") != strlen(colon + 1) || colon[1] == '\0')
        return -1;
    snprintf(host, hlen, "%.*s", (int) (colon - spec), spec);
    snprintf(port, plen, "%s", colon + 1);
    return 0;
}

/* autoconfig - Thunderbird's config-v1.1.xml for a domain of ours */
static void autoconfig(struct req *r, const char *email)
{
    const char *at = email ? strrchr(email, '@') : NULL, *p[1];
    char ih[256], ip[8], sh[256], sp[8];
    PGresult *res;
    int ours;

    if (at == NULL || at[1] == '\0' || strlen(at) > 255 ||
        server_part(var_portal_imap_server, ih, sizeof(ih), ip, sizeof(ip)) < 0 ||
        server_part(var_portal_submission_server, sh, sizeof(sh), sp, sizeof(sp)) < 0) {
        page_error(r, 404, "Pas de configuration.", "No configuration.");
        return;
    }
    p[0] = at + 1;
    if ((res = dbq("SELECT 1 FROM bal WHERE address LIKE '%@' || lower($1) LIMIT 1", 1, p)) == NULL) {
        unavailable(r);
        return;
    }
    ours = PQntuples(res) == 1;
    PQclear(res);
    if (!ours) {
        page_error(r, 404, "Domaine inconnu.", "Unknown domain.");
        return;
    }
    r->ctype = "application/xml; charset=utf-8";
    buf_puts(&r->body, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<clientConfig version=\"1.1\">\n"
                       "  <emailProvider id=\"");
    buf_html(&r->body, at + 1);
    buf_puts(&r->body, "\">\n    <domain>");
    buf_html(&r->body, at + 1);
    buf_puts(&r->body, "</domain>\n    <displayName>Messagerie MSSant\xc3\xa9</displayName>\n"
                       "    <displayShortName>MSSant\xc3\xa9</displayShortName>\n"
                       "    <incomingServer type=\"imap\">\n      <hostname>");
    buf_html(&r->body, ih);
    buf_printf(&r->body,
               "</hostname>\n      <port>%s</port>\n      <socketType>SSL</socketType>\n"
               "      <username>%%EMAILADDRESS%%</username>\n"
               "      <authentication>password-cleartext</authentication>\n    </incomingServer>\n"
               "    <outgoingServer type=\"smtp\">\n      <hostname>",
               ip);
    buf_html(&r->body, sh);
    buf_printf(&r->body,
               "</hostname>\n      <port>%s</port>\n      <socketType>STARTTLS</socketType>\n"
               "      <username>%%EMAILADDRESS%%</username>\n"
               "      <authentication>password-cleartext</authentication>\n    </outgoingServer>\n"
               "  </emailProvider>\n</clientConfig>\n",
               sp);
}

/* ---------------------------------------------------------------- routing */

/* csrf_ok - the form's token is the session's */
static int csrf_ok(struct req *r)
{
    const char *t = form_get(&r->form, "csrf");

    return r->have_session && t != NULL && strlen(t) == 64 && CRYPTO_memcmp(t, r->s.csrf, 64) == 0;
}

/* is - method and path */
static int is(const struct req *r, const char *method, const char *path)
{
    return strcmp(r->path, path) == 0 &&
           (strcmp(r->method, method) == 0 || (strcmp(method, "GET") == 0 && strcmp(r->method, "HEAD") == 0));
}

/* page_route - the page for a request, by path, method and session stage */
void page_route(struct req *r)
{
    int in = r->have_session && r->s.stage == ST_IN;
    int enrol = r->have_session && (r->s.stage == ST_IN || r->s.stage == ST_ENROL);

    if (is(r, "GET", "/style.css")) {
        r->ctype = "text/css; charset=utf-8";
        buf_puts(&r->body, css);
    } else if (is(r, "GET", "/favicon.svg") || is(r, "GET", "/favicon.ico")) {
        r->ctype = "image/svg+xml";
        buf_puts(&r->body, icon);
    } else if (is(r, "GET", "/.well-known/autoconfig/mail/config-v1.1.xml") ||
               is(r, "GET", "/mail/config-v1.1.xml")) {
        autoconfig(r, r->query_email);
    } else if (is(r, "GET", "/langue")) {
        r->set_lang = r->query_l && strcmp(r->query_l, "en") == 0 ? "en" : "fr";
        redirect(r, "/");
    } else if (r->is_post && !csrf_ok(r)) {
        msg_warn("client %s: a form without its session's token (%s)", r->client, r->path);
        page_error(r, 403, "Ce formulaire a expir\xc3\xa9 : rechargez la page et recommencez.",
                   "This form has expired: reload the page and try again.");
    } else if (is(r, "GET", "/")) {
        redirect(r, in                                         ? "/compte"
                    : enrol                                    ? "/canal"
                    : r->have_session && r->s.stage == ST_CODE ? "/code"
                                                               : "/connexion");
    } else if (is(r, "GET", "/connexion")) {
        if (in)
            redirect(r, "/compte");
        else
            login_form(r, NULL, NULL);
    } else if (is(r, "POST", "/connexion")) {
        sign_in(r);
    } else if (is(r, "GET", "/code")) {
        code_form(r, NULL);
    } else if (is(r, "POST", "/code")) {
        code_submit(r);
    } else if (is(r, "POST", "/deconnexion")) {
        sign_out(r);
    } else if (is(r, "GET", "/activation")) {
        link_page(r, "activation");
    } else if (is(r, "POST", "/activation")) {
        link_submit(r, "activation");
    } else if (is(r, "GET", "/reinitialisation")) {
        link_page(r, "reset");
    } else if (is(r, "POST", "/reinitialisation")) {
        link_submit(r, "reset");
    } else if (is(r, "GET", "/oubli")) {
        forgot_form(r, NULL);
    } else if (is(r, "POST", "/oubli")) {
        forgot_submit(r);
    } else if (!enrol && (strncmp(r->path, "/canal", 6) == 0 || strcmp(r->path, "/compte") == 0)) {
        redirect(r, "/connexion");
    } else if (is(r, "GET", "/canal")) {
        channel_page(r, NULL);
    } else if (is(r, "POST", "/canal")) {
        channel_choose(r);
    } else if (is(r, "GET", "/canal/qr.png")) {
        channel_qr(r);
    } else if (is(r, "POST", "/canal/confirmer")) {
        channel_confirm(r);
    } else if (!in && strcmp(r->path, "/compte") == 0) {
        redirect(r, "/canal");
    } else if (is(r, "GET", "/compte")) {
        account_page(r);
    } else if (!in && (strncmp(r->path, "/profil", 7) == 0 || strncmp(r->path, "/appareils", 10) == 0 ||
                       strncmp(r->path, "/delegues", 9) == 0)) {
        redirect(r, r->have_session && r->s.stage == ST_ENROL ? "/canal" : "/connexion");
    } else if (account_route(r)) {
        ;
    } else {
        page_error(r, 404, "Page introuvable.", "Page not found.");
    }
}
