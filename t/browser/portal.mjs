// portal.mjs - a user in headless Chromium (Debian's, driven by
// playwright-core) going through mssante-portal's pages, for
// t/76-portal-browser.t and "make demo".
//
// It speaks JSON lines with the Perl side: it reads one configuration line,
// then writes {ok, name, diag} for each check, {say} to narrate, {need, ...}
// when it needs the outside world (a message from a contact mailbox, an
// IMAP login), reading one answer line for each; {done} at the end.
// Codes come from oathtool, QR codes are read by zbarimg. Each page is
// kept as a screenshot in cfg.shots.
import { chromium } from 'playwright-core';
import { execFileSync } from 'node:child_process';
import { createInterface } from 'node:readline';
import { mkdirSync } from 'node:fs';

const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
const send = (o) => process.stdout.write(JSON.stringify(o) + '\n');
const answer = async () => JSON.parse((await lines.next()).value);
const need = async (o) => { send({ need: o.what, ...o }); return answer(); };
const ok = (cond, name, diag) => send({ ok: !!cond, name, diag: cond ? undefined : diag });
const say = (text) => send({ say: text });

const cfg = await answer();
mkdirSync(cfg.shots, { recursive: true });
let shot = 0;

// totp - a code of an app secret not used yet (each step is good once)
const steps = {};
function totp(secret) {
  const now = Math.floor(Date.now() / 1000 / 30);
  steps[secret] = Math.max((steps[secret] ?? now - 1) + 1, now);
  while (Math.floor(Date.now() / 1000 / 30) + 1 < steps[secret]) execFileSync('sleep', ['1']);
  return execFileSync('oathtool', ['--totp', '-b', '--now', '@' + steps[secret] * 30, secret]).toString().trim();
}

// newPage - a new browser context (a user of their own) and its page; what
// the browser reports as an error (a CSP violation among them) is kept
const consoleErrors = [];
async function newPage(browser) {
  const ctx = await browser.newContext({ ignoreHTTPSErrors: true, locale: 'fr-FR' });
  const page = await ctx.newPage();
  page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
  return page;
}

// keep - a screenshot of the page as it is now
async function keep(page, name) {
  shot++;
  await page.screenshot({ path: `${cfg.shots}/${String(shot).padStart(2, '0')}-${name}.png`, fullPage: true });
}

// path - the page's path
const path = (page) => new URL(page.url()).pathname;

async function activate(page, who, password) {
  const mail = await need({ what: 'mail', user: who.contact, subject: 'Activation' });
  const link = (mail.text.match(/https:\/\/\S+\/activation\?t=[0-9a-f]{64}/) || [])[0];
  ok(link, `${who.login}: the activation link read from the contact mailbox`, mail.text);
  await page.goto(link);
  ok(path(page) === '/activation', `${who.login}: the link opens the activation page (token out of the address)`,
     page.url());
  await keep(page, `${who.login}-activation`);
  say(`${who.login} follows the link, chooses a password and accepts the terms of use.`);
  await page.getByLabel('Nouveau mot de passe').fill(password);
  await page.getByLabel('Confirmation du mot de passe').fill(password);
  await page.getByLabel(/J'accepte les conditions/).check();
  await page.getByRole('button', { name: 'Valider' }).click();
  ok(path(page) === '/canal', `${who.login}: activated, on to the code channel`, page.url());
  await keep(page, `${who.login}-canal`);
}

// activateWithApp - the activation link, a password, the app channel (QR code read by
// zbarimg, code by oathtool), then an IMAP login with the password and a code
async function activateWithApp(browser, who, pw) {
  const page = await newPage(browser);
  await activate(page, who, pw);
  say('She chooses an authenticator app: the page shows a QR code and the secret as text.');
  await page.getByLabel(/application d'authentification/).check();
  await page.getByRole('button', { name: 'Tester' }).click();
  const secret = (await page.locator('#secret').textContent()).trim();
  const qrFile = `${cfg.shots}/qr-${who.contact}.png`;
  await page.locator('img[src="/canal/qr.png"]').screenshot({ path: qrFile });
  const scanned = execFileSync('zbarimg', ['--quiet', '--raw', qrFile], { stdio: ['ignore', 'pipe', 'ignore'] })
    .toString();
  ok(scanned.startsWith(`otpauth://totp/MSSante:${who.login}?secret=${secret}&`),
     'the QR code on the page, read by zbarimg, holds the secret shown as text', scanned);
  await keep(page, `${who.contact}-app`);
  say('Her phone scans it (zbarimg here) and shows a code (oathtool here); she types it.');
  await page.getByLabel('Code').fill(totp(secret));
  await page.getByRole('button', { name: 'Valider' }).click();
  ok(path(page) === '/compte' && /application d'authentification/.test(await page.locator('#channel').textContent()),
     'the code from oathtool confirms the app; the account page says so', page.url());
  await keep(page, `${who.contact}-compte`);
  const imap = await need({ what: 'imap', user: who.login, password: pw + totp(secret) });
  ok(imap.ok, `${who.login} logs in over IMAP with her password and an app code`, imap.text);
  return { page, secret };
}

async function run() {
  const browser = await chromium.launch({
    executablePath: cfg.chromium, headless: true,
    args: ['--no-sandbox', `--host-resolver-rules=MAP ${cfg.host} 127.0.0.1`],
  });
  const base = cfg.url;
  if (cfg.scenario === 'demo') {
    await activateWithApp(browser, cfg.user, cfg.password);
    ok(consoleErrors.length === 0, 'no error in the browser console', consoleErrors.join('\n'));
    await browser.close();
    return;
  }
  const marie = { login: 'marie.curie', contact: 'marie' }, anne = { login: 'anne.martin', contact: 'anne' };
  let pw = 'Nouveau-Mot-2-passe';

  // ------------------------------------------------ activation, the app channel
  say('Dr Marie CURIE activates her account and enrols an authenticator app.');
  let { page, secret } = await activateWithApp(browser, marie, pw);
  let imap;

  // ------------------------------------------------ sign-out, sign-in
  await page.getByRole('button', { name: 'Se déconnecter' }).click();
  ok(path(page) === '/connexion', 'signed out', page.url());
  await keep(page, 'connexion');
  await page.getByLabel('Identifiant (prenom.nom)').fill(marie.login);
  await page.getByLabel('Mot de passe').fill(pw);
  await page.getByRole('button', { name: 'Se connecter' }).click();
  ok(path(page) === '/code', 'the password, then the one-time code page', page.url());
  await keep(page, 'code');
  await page.getByLabel('Code').fill(totp(secret));
  await page.getByRole('button', { name: 'Valider' }).click();
  ok(path(page) === '/compte', 'signed in with the app code', page.url());

  // ------------------------------------------------ profile
  say('She sets her notification address and changes her password in "Mon profil".');
  await page.getByRole('link', { name: 'Mon profil' }).click();
  await page.getByLabel(/Adresse recevant les avis/).fill('marie.notif@perso.test');
  await page.getByLabel('Téléphone').fill('01 23 45 67 89');
  await page.getByRole('button', { name: 'Enregistrer' }).click();
  ok(await page.locator('#notification').textContent() === 'marie.notif@perso.test',
     'the notification address is saved', await page.content());
  await page.getByLabel('Mot de passe actuel').first().fill(pw);
  await page.getByLabel('Nouveau mot de passe').fill('Autre-Mot-2-passe');
  await page.getByLabel('Confirmation', { exact: true }).fill('Autre-Mot-2-passe');
  await page.getByRole('button', { name: 'Changer le mot de passe' }).click();
  ok(/Votre mot de passe est changé/.test(await page.content()), 'the password is changed', page.url());
  pw = 'Autre-Mot-2-passe';
  await keep(page, 'profil');
  imap = await need({ what: 'imap', user: marie.login, password: pw + totp(secret) });
  ok(imap.ok, 'the new password opens IMAP', imap.text);

  // ------------------------------------------------ devices
  say('She adds her phone in "Mes appareils": its own password and a QR code.');
  await page.getByRole('link', { name: 'Mes appareils' }).click();
  await page.getByLabel(/Nom de l'appareil/).fill('Téléphone');
  await page.getByRole('button', { name: 'Ajouter' }).click();
  const device = (await page.locator('#device-password').textContent()).trim();
  ok(/^d\d+-/.test(device), 'the device password is shown once', device);
  await keep(page, 'appareil-nouveau');
  imap = await need({ what: 'imap', user: marie.login, password: device });
  ok(imap.ok, 'the phone logs in over IMAP with it', imap.text);
  await page.goto(base + '/appareils');
  await page.getByRole('button', { name: 'Révoquer' }).click();
  await keep(page, 'appareils');
  imap = await need({ what: 'imap', user: marie.login, password: device });
  ok(!imap.ok, 'revoked: refused at once', imap.text);

  // ------------------------------------------------ delegates
  say('As responsible of the secretariat BAL, she adds Claire as delegate, then removes her.');
  await page.getByRole('link', { name: 'Délégués' }).click();
  await page.getByLabel('Identifiant du nouveau délégué').fill('claire.simon');
  await page.getByRole('button', { name: 'Ajouter' }).click();
  ok(/Claire SIMON \(claire\.simon\)/.test(await page.content()), 'claire is listed as delegate', page.url());
  await keep(page, 'delegues');
  imap = await need({ what: 'imap-delegate', user: 'secretariat@a.mssante.test*claire.simon' });
  ok(imap.ok, 'claire opens the secretariat BAL over IMAP', imap.text);
  await page.getByRole('button', { name: 'Retirer' }).click();
  imap = await need({ what: 'imap-delegate', user: 'secretariat@a.mssante.test*claire.simon' });
  ok(!imap.ok, 'removed: refused at her next login', imap.text);

  // ------------------------------------------------ forgotten password
  say('She forgets her password: a link to her contact address.');
  page = await newPage(browser);
  await page.goto(base + '/connexion');
  await page.getByRole('link', { name: /Mot de passe oublié/ }).click();
  await page.getByLabel('Identifiant (prenom.nom)').fill(marie.login);
  await page.getByLabel('Adresse de contact').fill('marie@perso.test');
  await page.getByRole('button', { name: 'Envoyer le lien' }).click();
  ok(/Si ces informations correspondent/.test(await page.content()), 'the page answers without saying more');
  await keep(page, 'oubli');
  const rmail = await need({ what: 'mail', user: 'marie', subject: 'initialisation' });
  const rlink = (rmail.text.match(/https:\/\/\S+\/reinitialisation\?t=[0-9a-f]{64}/) || [])[0];
  ok(rlink, 'the reset link reached the contact mailbox', rmail.text);
  await page.goto(rlink);
  await page.getByLabel('Nouveau mot de passe').fill('Encore-Mot-2-passe');
  await page.getByLabel('Confirmation du mot de passe').fill('Encore-Mot-2-passe');
  await keep(page, 'reinitialisation');
  await page.getByRole('button', { name: 'Valider' }).click();
  ok(path(page) === '/connexion' && /Votre mot de passe est changé/.test(await page.content()),
     'reset: back to the sign-in page', page.url());
  imap = await need({ what: 'imap', user: marie.login, password: 'Encore-Mot-2-passe' + totp(secret) });
  ok(imap.ok, 'the new password and the same app open IMAP (the second factor is kept)', imap.text);

  // ------------------------------------------------ activation, the e-mail channel
  say('Anne MARTIN activates her account with codes by e-mail.');
  page = await newPage(browser);
  await activate(page, anne, pw);
  await page.getByLabel(/par e-mail/).check();
  await page.getByRole('button', { name: 'Tester' }).click();
  const cmail = await need({ what: 'mail', user: anne.contact, subject: 'Code de confirmation' });
  const code = (cmail.text.match(/: (\d{6})/) || [])[1];
  ok(code, 'the confirmation code reached her contact mailbox', cmail.text);
  await keep(page, 'anne-email');
  await page.getByLabel('Code').fill(code);
  await page.getByRole('button', { name: 'Valider' }).click();
  ok(path(page) === '/compte' && /code par e-mail/.test(await page.locator('#channel').textContent()),
     'the e-mail channel is confirmed', page.url());
  imap = await need({ what: 'imap-email', user: anne.login, password: pw, contact: anne.contact });
  ok(imap.ok, 'anne logs in over IMAP with her password and the code mailed to her', imap.text);

  ok(consoleErrors.length === 0, 'no error in the browser console on any page (CSP included)',
     consoleErrors.join('\n'));
  await browser.close();
}

try {
  await run();
} catch (e) {
  ok(false, 'the browser scenario ran to its end', String(e.stack || e));
}
send({ done: true });
process.exit(0);
