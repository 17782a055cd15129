#!/usr/bin/perl
# mssante-portal over HTTP, through the shipped nginx site with TLS, checked
# against the real Dovecot (mssante_otp), Postfix and PostgreSQL: an
# account made with --activation gets its link in its contact mailbox
# (read over IMAP); the holder sets a password under the stated rules,
# accepts the terms and enrols the app (QR code decoded by zbarimg, codes by
# oathtool) or the e-mail channel, then logs in over IMAP with the second
# factor; sign-in to the portal is the passdb's (wrong password, device
# password, locked out as IMAP is); the forgotten-password page says the
# same thing for a real and an unknown pair; links work once; forms without
# their session's token are refused; hostile requests leave it answering.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use IO::Socket::INET;
use Time::HiRes qw(sleep time);
use Sandbox;
use OtpWorld;
use PortalWorld;

my $sb = Sandbox->new;
my $w = PortalWorld::setup($sb, contacts => [qw(marie anne paul)], conf => ['portal_rate_limit = 1000']);
my $psql = $w->{pg}{psql};
my $dc = $w->{dovecot};
my $password = 'Nouveau-Mot-2-passe';

sub admin_ok {
    my ($what, @args) = @_;
    my ($rc, $out, $err) = PortalWorld::admin($w, @args);
    is($rc, 0, $what) or diag "$out$err";
    return $out;
}
sub imap_login { my ($user, $pass) = @_; return $sb->imap($dc->{imap_port}, $user, $pass) }
sub until_ok { my ($what, $secs) = @_; my $end = time + $secs; sleep 0.2 until $what->() || time > $end; $what->() }

# ---------------------------------------------------------------- activation, app channel
admin_ok('an account made with --activation', 'account', 'add', 'marie.curie', '--activation',
         '--contact', 'marie@perso.test', '--first-name', 'Marie', '--last-name', 'CURIE');
admin_ok('its BAL', 'bal', 'add', 'marie.curie@a.mssante.test', '--owner', 'marie.curie', '--rpps-adeli', '10001234567');
is($psql->("SELECT state || ' ' || password FROM account WHERE login = 'marie.curie'"), "pending !\n",
   'pending, without a password');
my $imap = imap_login('marie.curie', 'anything-at-all1');
ok(!$imap->login_ok && $imap->login_text =~ /not activated yet: follow the activation link/,
   'IMAP login before activation: refused, the reason names the link') or diag $imap->login_text;
my ($rc, undef, $err) = PortalWorld::admin($w, 'account', 'add', 'x.y', '--activation');
ok($rc == 1 && $err =~ /no contact address/, '--activation without a contact address: refused')
    or diag $err;
is($psql->("SELECT count(*) FROM account WHERE login = 'x.y'"), "0\n", 'and nothing was added');

my $msg = PortalWorld::mail($w, 'marie', 'Activation', 60);
my $link = PortalWorld::link_in($msg);
ok($link, 'the activation link reached the contact mailbox (Postfix, Dovecot, IMAP)') or diag $msg;
like($msg, qr/valable 48 heures/, 'the message says how long the link is good');
is($psql->("SELECT count(*) FROM portal_token WHERE token_hash = encode(sha256('"
           . ($link =~ /t=([0-9a-f]+)/)[0] . "'), 'hex')"), "1\n", 'only its SHA-256 is stored');

my $m = PortalWorld::client($w, 'marie');
my $r = $m->get($link =~ s{^https://[^/]+}{}r);
is($r->{status}, 303, 'the link redirects');
is($r->{location}, '/activation', '... to an address without the token');
like($r->{headers}, qr/^Set-Cookie: __Host-mssante=[0-9a-f]{64}; Path=\/; HttpOnly; Secure; SameSite=Strict/mi,
     'the session cookie: HttpOnly, Secure, SameSite=Strict');
like($r->{headers}, qr/^Content-Security-Policy: default-src 'self'/mi, "Content-Security-Policy default-src 'self'");
like($r->{headers}, qr/^Referrer-Policy: no-referrer/mi, 'no Referer leaves with a token');
$r = $m->get('/activation');
ok($r->{status} == 200 && $r->{body} =~ /marie\.curie/ && $r->{body} =~ /Au moins 12 caract/,
   'the activation page: the login, the password rules stated');
like($r->{body}, qr/<label for="password">/, 'labelled fields');
$r = $m->post('/activation', password => 'court', confirm => 'court', terms => 'yes');
like($r->{body}, qr/trop court/, 'a short password: refused, said');
$r = $m->post('/activation', password => 'marie.curie-Abc123', confirm => 'marie.curie-Abc123', terms => 'yes');
like($r->{body}, qr/sans votre identifiant|ne contient pas votre identifiant/, 'a password holding the login: refused');
$r = $m->post('/activation', password => $password, confirm => "${password}x", terms => 'yes');
like($r->{body}, qr/diff/, 'two different entries: refused');
$r = $m->post('/activation', password => $password, confirm => $password);
like($r->{body}, qr/Acceptez les conditions d(&#39;|')utilisation/, 'terms not accepted: refused');
is($psql->("SELECT state FROM account WHERE login = 'marie.curie'"), "pending\n", 'still pending after refusals');
$r = $m->post('/activation', password => $password, confirm => $password, terms => 'yes');
is($r->{location}, '/canal', 'activated: on to the code channel');
is($psql->("SELECT state, terms_version, terms_accepted_at IS NOT NULL, otp_method FROM account"
           . " WHERE login = 'marie.curie'"), "active|1|t|none\n", 'active, terms recorded, no second factor yet');
is($psql->("SELECT count(*) FROM audit_event WHERE actor = 'marie.curie' AND action = 'portal-activate'"),
   "1\n", 'audited');
$imap = imap_login('marie.curie', $password);
ok(!$imap->login_ok && $imap->login_text =~ /second factor is required/,
   'IMAP with the password alone: a second factor is required') or diag $imap->login_text;
my $again = PortalWorld::client($w, 'again');
$r = $again->follow($again->get($link =~ s{^https://[^/]+}{}r));
is($r->{status}, 410, 'the link a second time: refused (used)');

$r = $m->get('/canal');
like($r->{body}, qr/obligatoire/, 'the channel page says a second factor is needed');
$r = $m->follow($m->post('/canal', method => 'totp'));
my ($secret) = $r->{body} =~ /id="secret">([A-Z2-7]+)</;
ok($secret, 'the app channel: the secret as text') or diag $r->{body};
$r = $m->get('/canal/qr.png');
is($r->{status}, 200, 'the QR code image');
like($r->{headers}, qr{^Content-Type: image/png}mi, 'a PNG');
my $decoded = qx{zbarimg --quiet --raw $r->{file} 2>/dev/null};
like($decoded, qr{^otpauth://totp/MSSante:marie\.curie\?secret=\Q$secret\E&}, 'zbarimg reads the same secret from it');
$r = $m->post('/canal/confirmer', code => sprintf('%06d', (OtpWorld::code($secret) + 1) % 1000000));
like($r->{body}, qr/Code incorrect/, 'a wrong code: not confirmed');
is($psql->("SELECT otp_method FROM account WHERE login = 'marie.curie'"), "none\n", 'nothing stored');
my $t0 = time;
$r = $m->post('/canal/confirmer', code => OtpWorld::code_at($secret, $t0));
is($r->{location}, '/compte', 'the right code: confirmed');
is($psql->("SELECT a.otp_method || ' ' || s.confirmed FROM account a JOIN otp_secret s ON s.account_id = a.id"
           . " WHERE login = 'marie.curie'"), "totp true\n", 'the app is the second factor');
$r = $m->get('/compte');
ok($r->{status} == 200 && $r->{body} =~ /marie\.curie\@a\.mssante\.test/ && $r->{body} =~ /application/,
   'the account page: the BAL and the channel');
$imap = imap_login('marie.curie', $password . OtpWorld::code_at($secret, $t0 + 30));
ok($imap->login_ok, 'IMAP login with password + app code') or diag $imap->login_text;
$imap->logout if $imap->login_ok;
$r = $m->post('/deconnexion');
like($r->{headers}, qr/^Set-Cookie: __Host-mssante=; Path=\/; Max-Age=0/mi, 'signing out drops the cookie');
like($m->follow($r)->{body}, qr/Authentification/, '... and shows the sign-in page');
is($m->get('/compte')->{location}, '/connexion', 'the account page needs a session again');

# ---------------------------------------------------------------- sign-in is the passdb's
admin_ok('paul: an account with a password', 'account', 'add', 'paul.durand', '--contact', 'paul@perso.test',
         { stdin => "Ancien-Mot-2-passe\n" });
admin_ok('its BAL', 'bal', 'add', 'paul.durand@a.mssante.test', '--owner', 'paul.durand', '--rpps-adeli', '10001234568');
my $otp = $sb->bin('mssante-otp');
my ($psecret) = Sandbox::run($otp, '-c', $w->{conf}, 'enroll', 'paul.durand', '--totp') =~ /secret=([A-Z2-7]+)/;
my $t1 = time;
Sandbox::run($otp, '-c', $w->{conf}, 'verify', 'paul.durand', OtpWorld::code_at($psecret, $t1));
my ($device) = Sandbox::run($otp, '-c', $w->{conf}, 'device', 'add', 'paul.durand', 'phone') =~ /^(d\d+-\S+)$/m;

my $p = PortalWorld::client($w, 'paul');
$r = $p->get('/connexion');
ok($r->{status} == 200 && $r->{body} =~ /<label for="login">/ && $r->{body} =~ /autocomplete="current-password"/,
   'the sign-in page');
my ($cookie0) = Sandbox::slurp("$p->{d}/jar") =~ /__Host-mssante\t([0-9a-f]{64})/;
$r = $p->post('/connexion', login => 'paul.durand', password => 'Mauvais-Mot-2-passe');
like($r->{body}, qr/Identifiant ou mot de passe incorrect/, 'a wrong password: refused');
# The same page but for the login typed, echoed back, and the form's token.
my $wrong = $r->{body} =~ s/value="[^"]*"//gr;
$r = $p->post('/connexion', login => 'nobody.here', password => 'Mauvais-Mot-2-passe');
is($r->{body} =~ s/value="[^"]*"//gr, $wrong, 'an unknown login: the very same page');
$r = $p->post('/connexion', login => 'paul.durand', password => $device);
like($r->{body}, qr/Identifiant ou mot de passe incorrect/, 'a device password opens no portal');
$imap = imap_login('paul.durand', $device);
ok($imap->login_ok, '... while it opens the mail over IMAP') or diag $imap->login_text;
$imap->logout if $imap->login_ok;
is($psql->("SELECT string_agg(result, ',' ORDER BY id) FROM audit_event WHERE action = 'login'"
           . " AND service = 'mssante-portal' AND actor IN ('paul.durand', 'nobody.here')"), "fail,fail,fail\n",
   'each portal attempt is a login row of the passdb (service mssante-portal)');
$r = $p->post('/connexion', login => 'paul.durand', password => 'Ancien-Mot-2-passe');
is($r->{location}, '/code', 'the right password: the code page next');
my ($cookie1) = Sandbox::slurp("$p->{d}/jar") =~ /__Host-mssante\t([0-9a-f]{64})/;
isnt($cookie1, $cookie0, 'the session got a new cookie');
$r = $p->get('/code');
like($r->{body}, qr/Mot de passe unique/, 'the one-time code page');
$r = $p->post('/code', code => OtpWorld::code_at($psecret, $t1));
like($r->{body}, qr/Code incorrect ou d/, 'the code already used by the enrolment: refused (replay)');
$r = $p->post('/code', code => OtpWorld::code_at($psecret, $t1 + 30));
is($r->{location}, '/compte', 'the next code: signed in');
my ($cookie2) = Sandbox::slurp("$p->{d}/jar") =~ /__Host-mssante\t([0-9a-f]{64})/;
isnt($cookie2, $cookie1, 'signed in under yet another cookie');
like($p->get('/compte')->{body}, qr/paul\.durand\@a\.mssante\.test/, 'his account page');
is($psql->("SELECT result FROM audit_event WHERE action = 'login' AND service = 'mssante-portal'"
           . " AND actor = 'paul.durand' ORDER BY id DESC LIMIT 1"), "ok\n", 'the sign-in is audited by the passdb');

# ---------------------------------------------------------------- CSRF
my $stale = $p->{csrf};
my $x = PortalWorld::client($w, 'stranger');
$x->get('/connexion');
$r = $x->request('POST', '/connexion', [login => 'paul.durand', password => 'Ancien-Mot-2-passe']);
is($r->{status}, 403, 'a POST without the token: refused');
$r = $x->post('/connexion', csrf => $stale, login => 'paul.durand', password => 'Ancien-Mot-2-passe');
is($r->{status}, 403, "another session's token: refused");
$r = $p->request('POST', '/canal', [method => 'totp']);
is($r->{status}, 403, 'signed in, a POST without the token: refused');

# ---------------------------------------------------------------- e-mail channel
admin_ok('anne: another --activation account', 'account', 'add', 'anne.martin', '--activation',
         '--contact', 'anne@perso.test');
admin_ok('her BAL', 'bal', 'add', 'anne.martin@a.mssante.test', '--owner', 'anne.martin', '--rpps-adeli', '10001234569');
my $a = PortalWorld::client($w, 'anne');
$r = $a->follow($a->get(PortalWorld::link_in(PortalWorld::mail($w, 'anne', 'Activation', 60)) =~ s{^https://[^/]+}{}r));
$r = $a->post('/activation', password => $password, confirm => $password, terms => 'yes');
is($r->{location}, '/canal', 'anne activated');
$a->follow($r);
$r = $a->follow($a->post('/canal', method => 'email'));
like($r->{body}, qr/Un code vient d/, 'the e-mail channel: a code was sent');
my ($cmsg) = PortalWorld::mail($w, 'anne', 'Code de confirmation', 60);
my ($ccode) = ($cmsg // '') =~ /confirmation MSSant\S* : (\d{6})/;
ok($ccode, 'the code reached her contact mailbox') or diag $cmsg;
$r = $a->post('/canal/confirmer', code => $ccode);
is($r->{location}, '/compte', 'the code confirms the channel');
is($psql->("SELECT otp_method FROM account WHERE login = 'anne.martin'"), "email\n", 'e-mail is her second factor');
$imap = imap_login('anne.martin', $password);
ok(!$imap->login_ok && $imap->login_text =~ /A code was sent/, 'IMAP, password alone: a code is mailed');
my ($lmsg) = PortalWorld::mail($w, 'anne', 'Code de connexion', 60);
my ($lcode) = ($lmsg // '') =~ /MSSant\S* : (\d{6})/;
$imap = imap_login('anne.martin', $password . ($lcode // ''));
ok($imap->login_ok, 'IMAP with password + the mailed code') or diag $imap->login_text;
$imap->logout if $imap->login_ok;

# ---------------------------------------------------------------- forgotten password
my $f = PortalWorld::client($w, 'forgot');
$f->get('/oubli');
my $before = PortalWorld::count($w, 'paul');
my $known = $f->post('/oubli', login => 'paul.durand', contact => 'Paul@Perso.test');
my $unknown = $f->post('/oubli', login => 'paul.durand', contact => 'other@perso.test');
my $nobody = $f->post('/oubli', login => 'personne.x', contact => 'paul@perso.test');
like($known->{body}, qr/Si ces informations correspondent/, 'the reset page answers');
is($unknown->{body} =~ s/value="[0-9a-f]{64}"//gr, $known->{body} =~ s/value="[0-9a-f]{64}"//gr,
   'the same page for a wrong contact address');
is($nobody->{body} =~ s/value="[0-9a-f]{64}"//gr, $known->{body} =~ s/value="[0-9a-f]{64}"//gr,
   'the same page for an unknown login');
my ($rmsg) = PortalWorld::mail($w, 'paul', 'initialisation', 60);
my $rlink = PortalWorld::link_in($rmsg);
ok($rlink, 'one reset link reached the contact address') or diag $rmsg;
like($rmsg, qr/valable 30 minutes/, 'good for 30 minutes');
ok(until_ok(sub { PortalWorld::count($w, 'paul') == $before + 1 }, 5), 'one message only');
$r = $f->follow($f->get($rlink =~ s{^https://[^/]+}{}r));
like($r->{body}, qr/Nouveau mot de passe/, 'the reset page');
$r = $f->post('/reinitialisation', password => 'Ancien-Mot-2-passe', confirm => 'Ancien-Mot-2-passe');
like($r->{body}, qr/diff\S+rent de l(&#39;|')actuel/, 'the current password again: refused');
$r = $f->post('/reinitialisation', password => $password, confirm => $password);
is($r->{location}, '/connexion', 'a new password: back to sign-in');
is($psql->("SELECT otp_method FROM account WHERE login = 'paul.durand'"), "totp\n", 'the second factor is kept');
$r = $f->follow($f->get($rlink =~ s{^https://[^/]+}{}r));
is($r->{status}, 410, 'the reset link a second time: refused');
$r = $f->post('/connexion', login => 'paul.durand', password => 'Ancien-Mot-2-passe');
like($r->{body}, qr/incorrect/, 'the old password no longer signs in');
$r = $f->post('/connexion', login => 'paul.durand', password => $password);
is($r->{location}, '/code', 'the new one does (the code next)');
# An expired link.
$f->get('/oubli');
$f->post('/oubli', login => 'anne.martin', contact => 'anne@perso.test');
my $elink = PortalWorld::link_in(scalar PortalWorld::mail($w, 'anne', 'initialisation', 60));
$psql->("UPDATE portal_token SET expires_at = now() - interval '1 second' WHERE kind = 'reset' AND used_at IS NULL");
$r = $f->follow($f->get($elink =~ s{^https://[^/]+}{}r));
is($r->{status}, 410, 'an expired link: refused');

# ---------------------------------------------------------------- import --activation
Sandbox::write_file("$sb->{dir}/nocontact.csv", "login;nom;prenom;email_contact;bal;rpps_adeli\n"
    . "louis.pasteur;PASTEUR;Louis;;louis.pasteur\@a.mssante.test;10001234571\n");
my ($irc, $iout, $ierr) = PortalWorld::admin($w, 'import', "$sb->{dir}/nocontact.csv", '--apply', '--activation');
ok($irc == 1 && $ierr =~ /a new account needs its email_contact/, 'import --activation: a row without contact address refused')
    or diag "$iout$ierr";
is($psql->("SELECT count(*) FROM account WHERE login = 'louis.pasteur'"), "0\n", 'nothing imported');
my $had = PortalWorld::count($w, 'paul');
Sandbox::write_file("$sb->{dir}/form.csv", "login;nom;prenom;email_contact;bal;rpps_adeli\n"
    . "louis.pasteur;PASTEUR;Louis;paul\@perso.test;louis.pasteur\@a.mssante.test;10001234571\n"
    . "emile.roux;ROUX;Emile;paul\@perso.test;emile.roux\@a.mssante.test;10001234572\n");
($irc, $iout, $ierr) = PortalWorld::admin($w, 'import', "$sb->{dir}/form.csv", '--apply', '--activation');
ok($irc == 0 && $iout =~ /activation link was sent/, 'import --activation of two rows') or diag "$iout$ierr";
is($psql->("SELECT string_agg(login || ' ' || state, ',' ORDER BY login) FROM account"
           . " WHERE login IN ('louis.pasteur', 'emile.roux')"), "emile.roux pending,louis.pasteur pending\n",
   'both wait for their holders');
ok(until_ok(sub { PortalWorld::count($w, 'paul') == $had + 2 }, 30), 'each activation link reached its contact address');

# ---------------------------------------------------------------- autoconfiguration
$r = $x->get('/.well-known/autoconfig/mail/config-v1.1.xml?emailaddress=paul.durand%40a.mssante.test');
ok($r->{status} == 200 && $r->{body} =~ m{<incomingServer type="imap">\s*<hostname>imap\.a\.mssante\.test</hostname>\s*<port>993</port>\s*<socketType>SSL</socketType>}
   && $r->{body} =~ m{<outgoingServer type="smtp">\s*<hostname>smtp\.a\.mssante\.test</hostname>\s*<port>587</port>\s*<socketType>STARTTLS</socketType>},
   'Thunderbird autoconfiguration for a domain of ours');
is(system("printf '%s' \Q$r->{body}\E | xmllint --noout - 2>/dev/null"), 0, 'well-formed XML (xmllint)');
is($x->get('/mail/config-v1.1.xml?emailaddress=x%40gmail.com')->{status}, 404, 'none for a domain not ours');

# ---------------------------------------------------------------- hostile requests
Sandbox::write_file("$sb->{dir}/big", 'login=' . ('a' x 40000));
$r = $x->request('POST', '/connexion', undef, raw => "$sb->{dir}/big",
                 headers => { 'Content-Type' => 'application/x-www-form-urlencoded' });
is($r->{status}, 413, 'an oversized body: 413');
$x->get('/connexion');
Sandbox::write_file("$sb->{dir}/badutf8", "csrf=$x->{csrf}&login=%C3%28&password=x");
$r = $x->request('POST', '/connexion', undef, raw => "$sb->{dir}/badutf8",
                 headers => { 'Content-Type' => 'application/x-www-form-urlencoded' });
ok($r->{status} == 400 && $r->{body} =~ /caract/, 'bad UTF-8 in a form: 400 with a clear page');
$r = $x->request('GET', '/connexion', undef, headers => { 'X-Big' => 'x' x 20000 }, http1 => 1);
is($r->{status}, 400, 'a huge header: refused by nginx');
my $hostile = 0;
for my $i (1 .. 200) {
    my @h = (['/connexion', "csrf=zz&login=%ZZ&password=\xff\xfe"], ['/oubli', "%%%%&&=="],
             ['/canal/confirmer', "code=" . ('9' x 5000)], ['/code', ''], ['/activation', "a=b" x 100]);
    my ($path, $body) = @{ $h[$i % @h] };
    Sandbox::write_file("$sb->{dir}/h", $body);
    my $s = $x->request('POST', $path, undef, raw => "$sb->{dir}/h",
                        headers => { 'Content-Type' => 'application/x-www-form-urlencoded' })->{status};
    $hostile++ if $s >= 400 && $s < 500;
}
is($hostile, 200, '200 hostile forms: each refused with a 4xx');
# 1,000 more straight to the portal's port: huge headers, bad UTF-8, truncated
# and oversized bodies, garbage; each connection closed by the client.
my @raw = (
    "GET /connexion HTTP/1.1\r\nHost: x\r\nX-Big: " . ('y' x 100000) . "\r\n\r\n",
    "GET /%FF%FE%C3%28 HTTP/1.1\r\nHost: x\r\n\r\n",
    "GET /activation?t=%C3%28%FF HTTP/1.1\r\nHost: x\r\n\r\n",
    "POST /connexion HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
        . "Content-Length: 5000\r\n\r\nlogin=abc&pass",
    "POST /oubli HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nFFFFFFFF\r\n" . ('z' x 3000),
    "\x00\x01\x02 garbage \xff\r\n\r\n",
    "GET " . ('/a' x 20000) . " HTTP/1.1\r\nHost: x\r\n\r\n",
    "POST /code HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
        . "Content-Length: 20000\r\n\r\n" . ('code=1&' x 2857),
);
my $sent = 0;
for my $i (1 .. 1000) {
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $w->{portal_port}, Proto => 'tcp',
                                  Timeout => 5) or next;
    $s->send($raw[$i % @raw]);
    $sent++;
    close $s;
}
is($sent, 1000, '1,000 hostile requests sent straight to the portal');
$r = $x->get('/connexion');
is($r->{status}, 200, 'the portal still answers');
ok(kill(0, $w->{portal}{pid}), 'the same process');

# ---------------------------------------------------------------- rate limit, reload
Sandbox::write_file($w->{conf}, Sandbox::slurp($w->{conf}) =~ s/^portal_rate_limit = 1000$/portal_rate_limit = 5/mr);
kill 'HUP', $w->{portal}{pid};
ok(until_ok(sub { Sandbox::slurp($w->{portal}{log}) =~ /settings reloaded/ }, 10), 'SIGHUP: settings reloaded');
is($x->post('/oubli', login => 'a.b', contact => 'c@d.test')->{status}, 429,
   'from 127.0.0.1, past the new portal_rate_limit of the minute: 429');
my $y = PortalWorld::client($w, 'other-address', local => '127.0.0.3');
$y->get('/oubli');
my @codes = map { $y->post('/oubli', login => 'a.b', contact => 'c@d.test')->{status} } 1 .. 7;
is("@codes", '200 200 200 200 200 429 429', 'from 127.0.0.3 (X-Real-IP): 5 forms, then 429');
is($y->get('/oubli')->{status}, 200, 'pages are still shown');
# nginx no longer trusted: its X-Real-IP is not believed, every client is nginx's 127.0.0.1
Sandbox::write_file($w->{conf}, Sandbox::slurp($w->{conf}) . "portal_trusted_proxies = ::1\n");
kill 'HUP', $w->{portal}{pid};
ok(until_ok(sub { (() = Sandbox::slurp($w->{portal}{log}) =~ /settings reloaded/g) == 2 }, 10),
   'SIGHUP: portal_trusted_proxies = ::1');
my $z = PortalWorld::client($w, 'third-address', local => '127.0.0.6');
$z->get('/oubli');
is($z->post('/oubli', login => 'a.b', contact => 'c@d.test')->{status}, 429,
   'from 127.0.0.6 through an untrusted proxy: counted as the proxy\'s 127.0.0.1, 429');
Sandbox::write_file($w->{conf}, Sandbox::slurp($w->{conf}) =~ s/^portal_trusted_proxies = ::1\n//mr);
kill 'HUP', $w->{portal}{pid};
ok(until_ok(sub { (() = Sandbox::slurp($w->{portal}{log}) =~ /settings reloaded/g) == 3 }, 10), 'trusted again');
is($z->post('/oubli', login => 'a.b', contact => 'c@d.test')->{status}, 200, 'from 127.0.0.6: its own count, 200');
unlike(Sandbox::slurp($w->{portal}{log}), qr/\Q$password\E|Ancien-Mot|$psecret/, 'no password or secret in its log');
like(Sandbox::slurp($w->{portal}{log}), qr/paul\.durand signed in from 127\.0\.0\.1/,
     'its log names who signed in, from where (X-Real-IP from nginx)');

unlike(Sandbox::slurp($w->{portal}{log}), qr/Sanitizer|runtime error/, 'no sanitizer report from the portal');

done_testing;
