#!/usr/bin/perl
# mssante-portal, signed in: "Mon profil" (a password change checked by the
# passdb without sending any code; a contact address changed only with the
# password and a fresh code, the old address told; notification address and
# phone), "Mes appareils" (a device password shown once with its QR code,
# used over IMAP, listed with its last use, revoked at once) and
# "Délégués" (the responsible of an ORG BAL adds a delegate, who opens the
# BAL over IMAP, then removes them: refused at the next login); the pages
# in English; an idle session ends.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(sleep time);
use Sandbox;
use OtpWorld;
use PortalWorld;

my $sb = Sandbox->new;
my $w = PortalWorld::setup($sb, contacts => [qw(paul paul2 anne anne2 claire)], conf => ['portal_rate_limit = 1000']);
my $psql = $w->{pg}{psql};
my $dc = $w->{dovecot};
my ($ppw, $apw, $cpw) = ('Paul-Mot-2-passe', 'Anne-Mot-2-passe', 'Claire-Mot-2-passe');
my ($psecret, $pt) = PortalWorld::account($w, 'paul.durand', $ppw);
PortalWorld::account($w, 'anne.martin', $apw, email => 1);
my ($csecret, $ct) = PortalWorld::account($w, 'claire.simon', $cpw);
my ($rc, undef, $err) = PortalWorld::admin($w, 'bal', 'add', 'secretariat@a.mssante.test', '--type', 'ORG',
                                           '--owner', 'paul.durand', '--finess', '750000001');
is($rc, 0, 'an ORG BAL whose responsible is paul') or diag $err;
sub imap_login { my ($user, $pass) = @_; return $sb->imap($dc->{imap_port}, $user, $pass) }
sub until_ok { my ($what, $secs) = @_; my $end = time + $secs; sleep 0.2 until $what->() || time > $end; $what->() }
# step - a code of paul's app not used yet (each is good once)
my $pstep = int($pt / 30);
sub pcode { OtpWorld::next_code($psecret, \$pstep) }

my $p = PortalWorld::client($w, 'paul');
my $r = PortalWorld::sign_in($p, 'paul.durand', $ppw, pcode());
is($r->{location}, '/compte', 'paul signed in');

# ---------------------------------------------------------------- profile
$r = $p->get('/profil');
ok($r->{status} == 200 && $r->{body} =~ m{<dd id="contact">paul\@perso\.test</dd>}, 'the profile: his contact address');
$r = $p->post('/profil/mot-de-passe', current => 'Pas-le-bon-Mot-2', password => 'Paul-Nouveau-2-mdp',
              confirm => 'Paul-Nouveau-2-mdp');
like($r->{body}, qr/Mot de passe actuel incorrect/, 'a wrong current password: refused');
is($psql->("SELECT result FROM audit_event WHERE action = 'login' AND actor = 'paul.durand'"
           . " AND service = 'mssante-portal' ORDER BY id DESC LIMIT 1"), "fail\n",
   'checked by the passdb (a failed login row, counted like any)');
$r = $p->post('/profil/mot-de-passe', current => $ppw, password => 'court', confirm => 'court');
like($r->{body}, qr/trop court/, 'the right one, a weak new one: refused');
$r = $p->post('/profil/mot-de-passe', current => $ppw, password => 'Paul-Nouveau-2-mdp',
              confirm => 'Paul-Nouveau-2-mdp');
like($r->{body}, qr/Votre mot de passe est chang/, 'the password is changed');
my $imap = imap_login('paul.durand', $ppw . pcode());
ok(!$imap->login_ok, 'the old password no longer opens IMAP');
$imap = imap_login('paul.durand', 'Paul-Nouveau-2-mdp' . pcode());
ok($imap->login_ok, 'the new one does, with a code') or diag $imap->login_text;
$imap->logout if $imap->login_ok;
$ppw = 'Paul-Nouveau-2-mdp';

# anne (codes by e-mail): checking her password sends her no code
my $a = PortalWorld::client($w, 'anne');
$a->get('/connexion');
$r = $a->post('/connexion', login => 'anne.martin', password => $apw);
is($r->{location}, '/code', 'anne: the password, then a code by e-mail');
my ($m1, $n1) = PortalWorld::mail($w, 'anne', 'Code de connexion', 60);
my ($code) = ($m1 // '') =~ /MSSant\S* : (\d{6})/;
$a->get('/code');
$r = $a->post('/code', code => $code);
is($r->{location}, '/compte', 'anne signed in with the mailed code');
$a->get('/profil');
my $before = PortalWorld::count($w, 'anne');
$r = $a->post('/profil/mot-de-passe', current => $apw, password => 'Anne-Nouveau-2-mdp', confirm => 'Anne-Nouveau-2-mdp');
like($r->{body}, qr/Votre mot de passe est chang/, 'anne changes her password');
is(PortalWorld::count($w, 'anne'), $before, 'and no code was mailed to check it');
$apw = 'Anne-Nouveau-2-mdp';

# contact address: the password and a fresh code
$r = $p->post('/profil/contact', contact => 'paul2@perso.test', current => 'Faux-Mot-2-passe');
like($r->{body}, qr/Mot de passe actuel incorrect/, 'contact change, wrong password: refused');
$r = $p->post('/profil/contact', contact => 'pas une adresse', current => $ppw);
like($r->{body}, qr/pas valable/, 'a malformed address: refused');
$r = $p->post('/profil/contact', contact => 'paul2@perso.test', current => $ppw);
is($r->{location}, '/profil/code', 'the right password: a code is asked');
$p->get('/profil/code');
$r = $p->post('/profil/code', code => '000000');
like($r->{body}, qr/Code incorrect/, 'a wrong code: refused');
is($psql->("SELECT contact_email FROM account WHERE login = 'paul.durand'"), "paul\@perso.test\n", 'unchanged');
$r = $p->post('/profil/code', code => pcode());
is($r->{location}, '/profil', 'the right code: changed');
is($psql->("SELECT contact_email FROM account WHERE login = 'paul.durand'"), "paul2\@perso.test\n", 'the new address is stored');
my $told = PortalWorld::mail($w, 'paul', 'Changement de votre adresse de contact', 60);
like($told // '', qr/d\S+sormais\s+paul2\@perso\.test/, 'the old address is told, naming the new one');
is($psql->("SELECT count(*) FROM audit_event WHERE actor = 'paul.durand' AND action = 'portal-contact-change'"),
   "1\n", 'audited');

# anne's contact change: the code goes to her current address
$a->get('/profil');
$r = $a->post('/profil/contact', contact => 'anne2@perso.test', current => $apw);
is($r->{location}, '/profil/code', 'anne: a code is asked');
my ($m2) = PortalWorld::mail($w, 'anne', 'Code de connexion', 60, $n1);
($code) = ($m2 // '') =~ /MSSant\S* : (\d{6})/;
ok($code, 'the code went to her current contact address');
$a->get('/profil/code');
$r = $a->post('/profil/code', code => $code);
is($r->{location}, '/profil', 'anne: changed with the mailed code');

# notification address and phone
$p->get('/profil');
$r = $p->post('/profil/coordonnees', notify => 'pas une adresse', phone => '');
like($r->{body}, qr/adresse de notification n'est pas valable|notification n&#39;est pas valable/, 'a malformed notification address: refused');
$r = $p->post('/profil/coordonnees', notify => 'paul.notif@perso.test', phone => '06 12 34 56 78');
is($r->{location}, '/profil', 'saved');
is($psql->("SELECT string_agg(address || '=' || coalesce(notify_email, ''), ' ' ORDER BY address) FROM bal"
           . " WHERE address IN ('paul.durand\@a.mssante.test', 'secretariat\@a.mssante.test')"),
   "paul.durand\@a.mssante.test=paul.notif\@perso.test secretariat\@a.mssante.test=paul.notif\@perso.test\n",
   'the notification address of every BAL he holds');
is($psql->("SELECT phone FROM account WHERE login = 'paul.durand'"), "06 12 34 56 78\n", 'the phone, stored');

# ---------------------------------------------------------------- devices
$r = $p->get('/appareils');
like($r->{body}, qr/Ajouter un appareil/, 'the devices page');
$r = $p->follow($p->post('/appareils', name => 'iPhone de Paul'));
my ($dpw) = $r->{body} =~ /id="device-password">(d\d+-[a-z2-9-]+)</;
ok($dpw, 'a device password, shown') or diag $r->{body};
my $qr = $p->get('/appareils/qr.png');
my $text = qx{zbarimg --quiet --raw $qr->{file} 2>/dev/null};
like($text, qr/Identifiant: paul\.durand\nMot de passe: \Q$dpw\E\nIMAP: imap\.a\.mssante\.test:993/,
     'its QR code holds the login, the password and the servers (zbarimg)');
$r = $p->get('/appareils');
unlike($r->{body}, qr/\Q$dpw\E/, 'shown once: not on the next visit');
is($p->get('/appareils/qr.png')->{status}, 404, 'nor its QR code');
like($r->{body}, qr{<td>iPhone de Paul</td><td>\d\d/\d\d/\d{4} \d\d:\d\d</td><td>-</td>}, 'listed, never used');
$imap = imap_login('paul.durand', $dpw);
ok($imap->login_ok, 'the device password opens IMAP') or diag $imap->login_text;
$imap->logout if $imap->login_ok;
like($p->get('/appareils')->{body}, qr{<td>iPhone de Paul</td><td>[^<]+</td><td>\d\d/\d\d/\d{4} \d\d:\d\d</td>},
     'listed with its last use');
$r = $p->follow($p->post('/appareils', name => 'iPhone de Paul'));
like($r->{body}, qr/porte d\S+ ce nom/, 'the same name twice: refused');
$r = $p->post('/appareils/revoquer', name => 'iPhone de Paul');
is($r->{location}, '/appareils', 'revoked');
$imap = imap_login('paul.durand', $dpw);
ok(!$imap->login_ok, 'the device password is refused at once');
is($psql->("SELECT string_agg(action, ',' ORDER BY id) FROM audit_event WHERE actor = 'paul.durand'"
           . " AND action LIKE 'device-%'"), "device-add,device-revoke\n", 'both audited');

# ---------------------------------------------------------------- delegates
$r = $p->get('/delegues');
like($r->{body}, qr{<h2>secretariat\@a\.mssante\.test</h2>}, 'paul sees the ORG BAL he is responsible of');
unlike($r->{body}, qr{<h2>paul\.durand\@}, 'not his own PER BAL');
my $cstep = int($ct / 30);
sub ccode { OtpWorld::next_code($csecret, \$cstep) }
$imap = imap_login('secretariat@a.mssante.test*claire.simon', $cpw . ccode());
ok(!$imap->login_ok, 'claire cannot open the BAL yet');
$r = $p->post('/delegues', bal => 'secretariat@a.mssante.test', login => 'personne.inconnue');
like($r->{body}, qr/Aucun compte de cet identifiant/, 'an unknown login: refused');
$r = $p->post('/delegues', bal => 'secretariat@a.mssante.test', login => 'claire.simon');
is($r->{location}, '/delegues', 'claire added as delegate');
like($p->get('/delegues')->{body}, qr/Claire SIMON \(claire\.simon\)/, 'listed');
$imap = imap_login('secretariat@a.mssante.test*claire.simon', $cpw . ccode());
ok($imap->login_ok, 'claire opens the BAL over IMAP with her own credentials') or diag $imap->login_text;
$imap->logout if $imap->login_ok;
# anne is not its responsible: the same form from her does nothing
$a->get('/delegues');
$r = $a->post('/delegues/retirer', bal => 'secretariat@a.mssante.test', login => 'claire.simon');
like($r->{body}, qr/n'existe pas|n&#39;existe pas/, 'anne cannot remove a delegate of a BAL not hers');
$r = $p->post('/delegues/retirer', bal => 'secretariat@a.mssante.test', login => 'claire.simon');
is($r->{location}, '/delegues', 'paul removes claire');
$imap = imap_login('secretariat@a.mssante.test*claire.simon', $cpw . ccode());
ok(!$imap->login_ok, 'refused at her next login');
is($psql->("SELECT string_agg(action || ' ' || detail, ',' ORDER BY id) FROM audit_event WHERE actor = 'paul.durand'"
           . " AND action LIKE 'delegate-%'"),
   "delegate-add secretariat\@a.mssante.test claire.simon,delegate-remove secretariat\@a.mssante.test claire.simon\n",
   'both audited');

# ---------------------------------------------------------------- English, idle sessions
$r = $p->follow($p->get('/langue?l=en'));
like($r->{body}, qr/<html lang="en">.*My account/s, 'the pages in English');
Sandbox::write_file($w->{conf}, Sandbox::slurp($w->{conf}) . "portal_idle_timeout = 5s\n");
kill 'HUP', $w->{portal}{pid};
ok(until_ok(sub { () = Sandbox::slurp($w->{portal}{log}) =~ /settings reloaded/g }, 10), 'idle timeout 5 s (reload)');
is($p->get('/compte')->{status}, 200, 'used within 5 s: still signed in');
sleep 6;    # the state asserted is the passing of the idle time itself
is($p->get('/compte')->{location}, '/connexion', 'idle for 6 s: the session is over');

# The absolute lifetime: used every second and a half, the session still
# ends 10 s after the sign-in.
Sandbox::write_file($w->{conf}, Sandbox::slurp($w->{conf}) . "portal_session_lifetime = 10s\n");
kill 'HUP', $w->{portal}{pid};
ok(until_ok(sub { (() = Sandbox::slurp($w->{portal}{log}) =~ /settings reloaded/g) == 2 }, 10), 'lifetime 10 s (reload)');
$code = pcode();
my $t0 = time;
$r = PortalWorld::sign_in($p, 'paul.durand', $ppw, $code);
my $t1 = time;
is($r->{location}, '/compte', 'signed in again');
my (@early, $late);
while (1) {
    my $at = time;
    my $page = $p->get('/compte');
    last if $at - $t1 > 12 && ($late = $page);
    push @early, $page->{status} if time - $t0 < 9.5;
    sleep 1.5;
}
ok(@early >= 3 && !grep({ $_ != 200 } @early), 'used within its lifetime: still signed in') or diag "@early";
is($late->{location}, '/connexion', 'more than 10 s after the sign-in, although used: the session is over');

unlike(Sandbox::slurp($w->{portal}{log}), qr/Sanitizer|runtime error/, 'no sanitizer report from the portal');

done_testing;
