#!/usr/bin/perl
# dovecot-auth-otp with the sandbox Dovecot and PostgreSQL: IMAP logins by
# password + TOTP code (oathtool), replays and old codes refused, device
# passwords until revoked, lock-out of one client address after repeated
# failures (never of the owner elsewhere) and unlock, the same answer to
# locked, unknown and wrong,
# PostgreSQL down means a temporary failure and never a success; the audit
# trail records every attempt and no log holds a secret.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Sandbox;
use ListeBlanche;

my $sb = Sandbox->new;
my $dir = $sb->dir;
my ($pg, $conf) = $sb->migrated;
my $otp = $sb->bin('mssante-otp');
# E-mailed codes leave through the sandbox Postfix (its config dir is known in advance).
Sandbox::write_file($conf, Sandbox::slurp($conf) . "otp_key_file = $dir/otp.key\n"
    . "otp_email_sender = no-reply\@a.mssante.test\notp_sendmail = /usr/sbin/sendmail -C $dir/postfix-a/etc\n");

# cli - mssante-otp; (exit status, stdout, stderr)
sub cli {
    my $cmd = join ' ', map { Sandbox::shell_quote($_) } $otp, '-c', $conf, @_;
    my $out = qx{$cmd 2>$dir/cli.err};
    return ($? >> 8, $out, Sandbox::slurp("$dir/cli.err"));
}
sub q1 { my $r = $pg->{psql}->($_[0]); chomp $r; $r }

my ($rc, $out, $err) = cli('key');
is($rc, 0, 'mssante-otp key creates the key') or diag $err;
is(sprintf('%o', (stat "$dir/otp.key")[2] & 07777), '600', 'mode 0600');
($rc, $out, $err) = cli('key');
ok($rc == 1 && $err =~ /never replaced/, 'an existing key is never replaced');

# Two accounts, each owning a BAL; passwords hashed by Dovecot's own tool.
my %pw = ('jean.dupont' => 'Mot-de-passe-1', 'marie.curie' => 'Mot-de-passe-2', 'paul.martin' => 'Mot-de-passe-3');
for my $login (sort keys %pw) {
    chomp(my $hash = Sandbox::run('doveadm', 'pw', '-s', 'SHA512-CRYPT', '-p', $pw{$login}));
    q1("INSERT INTO account (login, password) VALUES ('$login', '$hash')");
    q1("INSERT INTO bal (address) VALUES ('$login\@a.mssante.test')");
    q1("INSERT INTO bal_access SELECT id, '$login\@a.mssante.test', 'owner' FROM account WHERE login = '$login'");
}

my $module = $sb->build . '/dovecot/auth/libauthdb_mssante_otp.so';
my $dc = $sb->dovecot(auth_modules => [$module],
                      passdb => "  driver = mssante_otp\n  args = $conf",
                      extra => "auth_username_chars = abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ01234567890.-_\@*\n"
                             . "service auth {\n  unix_listener auth-smtp {\n    mode = 0666\n  }\n}\n");
# SMTP submission authenticated by the same Dovecot (Postfix SASL).
# Local submissions go through milter-whitelist, as in production: the
# contact address is outside the trust space, only the code sender is exempt.
my $pki = $sb->pki;
my $signer = $sb->issue(kind => 'smime', cn => 'alb.mssante.test', o => 'GIE TEST', email => 'alb@mssante.test');
my $lb = ListeBlanche::sign(ListeBlanche::document(entries => [['a.mssante.test', 'CN=mx.a.mssante.test,O=OPERATEUR A,C=FR']]),
                            $signer, "$dir/lb.xml");
my $milter = $sb->milter(bin => $sb->bin('milter-whitelist'), name => 'wl', args => ['-c',
    Sandbox::write_file("$dir/wl.conf", join '', map { "$_\n" } "whitelist_file = $lb",
        "whitelist_trust_anchors = $pki->{bundle}", 'our_domains = a.mssante.test',
        "whitelist_issuer_cns = $pki->{organisations}{cn}",
        'local_exempt_senders = no-reply@a.mssante.test'), '-u', 'postfix']);
($rc, $out, $err) = cli('enroll', 'paul.martin', '--email', 'not an address');
ok($rc == 1 && $err =~ /is not an e-mail address/, 'enroll --email refuses a malformed address');
($rc, $out) = cli('enroll', 'paul.martin', '--email', 'paul@perso.test');
like($out, qr/paul\.martin: codes will be sent to paul\@perso\.test/, 'enroll --email sets the method and contact');
my $pf = $sb->postfix(name => 'a', addr => '127.0.0.2', domains => ['a.mssante.test', 'perso.test'],
    recipients => ['jean.dupont@a.mssante.test', 'paul@perso.test'], lmtp => "inet:127.0.0.1:$dc->{lmtp_port}",
    main => { non_smtpd_milters => $milter->{socket}, milter_default_action => 'tempfail',
              milter_protocol => 6 },
    submission => { args => ['smtpd_sasl_auth_enable=yes', 'smtpd_sasl_type=dovecot',
                             "smtpd_sasl_path=$dc->{dir}/run/auth-smtp",
                             'smtpd_recipient_restrictions=permit_sasl_authenticated,reject'] });

# submit - one message over SMTP submission with AUTH PLAIN; swaks' exit status
sub submit {
    my ($user, $pass) = @_;
    my $cmd = join ' ', map { Sandbox::shell_quote($_) } 'swaks', '--server', '127.0.0.2', '--port',
        $pf->{submission_port}, '--auth', 'PLAIN', '--auth-user', $user, '--auth-password', $pass,
        '--from', 'jean.dupont@a.mssante.test', '--to', 'jean.dupont@a.mssante.test';
    qx{$cmd >$dir/swaks.out 2>&1};
    return $? >> 8;
}

# login - IMAP LOGIN; (OK|NO|..., text)
sub login {
    my ($user, $pass, $from) = @_;
    my $imap = $sb->imap($dc->{imap_port}, $user, $pass, local => $from);
    my @r = ($imap->login_ok ? 'OK' : 'NO', $imap->login_text);
    $imap->logout;
    return @r;
}

# --- enrolment
($rc, $out, $err) = cli('enroll', 'jean.dupont', '--totp', '--qr', '--png', "$dir/jean.png");
my ($uri, $secret) = $out =~ m{^(otpauth://totp/MSSante:jean\.dupont\?secret=([A-Z2-7]+)&issuer=MSSante&algorithm=SHA1&digits=6&period=30)$}m;
ok($secret, 'enroll prints the otpauth:// URI') or diag $out, $err;
is(sprintf('%o', (stat "$dir/jean.png")[2] & 07777), '600', 'the PNG holding the secret is mode 0600');
is(scalar qx{zbarimg -q --raw $dir/jean.png 2>/dev/null}, "$uri\n", 'the PNG is a QR code of that URI (read back by zbarimg)');
# The terminal drawing (--qr: also when not a terminal): half blocks, a space
# being two dark modules. Redrawn as a PBM image, zbarimg must read the URI.
utf8::decode(my $text = $out);
my @rows = grep { /^[ \x{2580}\x{2584}\x{2588}]+$/ && /\S/ } split /\n/, $text;
my @px;
for my $l (@rows) {
    push @px, [map { /[ \x{2584}]/ ? 1 : 0 } split //, $l], [map { /[ \x{2580}]/ ? 1 : 0 } split //, $l];
}
my $scale = 4;
my $pbm = 'P1 ' . (@px ? @{ $px[0] } * $scale : 0) . ' ' . @px * $scale . "\n"
    . join '', map { my $r = $_; (join(' ', map { ($_) x $scale } @$r) . "\n") x $scale } @px;
Sandbox::write_file("$dir/qr.pbm", $pbm);
is(scalar qx{zbarimg -q --raw $dir/qr.pbm 2>/dev/null}, "$uri\n", '--qr draws the same URI as a QR code on the output');
sub code { my ($at) = @_; my $c = qx{oathtool --totp -b ${\ ($at ? "--now \@$at" : '') } $secret}; chomp $c; $c }
my ($st) = login('jean.dupont', $pw{'jean.dupont'} . code());
is($st, 'NO', 'before confirmation the code is not accepted');
($rc, $out, $err) = cli('verify', 'jean.dupont', '000000') if code() ne '000000';
is($rc, 1, 'verify with a wrong code: refused');
# The previous step's code, so that the current one is still unused for the
# login below; not within 4 s of a step change, or it would be two steps old.
sleep 1 while time % 30 > 26;
($rc, $out, $err) = cli('verify', 'jean.dupont', code(time - 30));
is($rc, 0, 'verify with a code from the app confirms the enrolment') or diag $err;
is(q1("SELECT otp_method FROM account WHERE login = 'jean.dupont'"), 'totp', 'the account now needs TOTP');

# --- password + code
sleep 1 while time % 30 > 26;               # one step for the next checks
my $code = code();
my ($txt, $imap);
($st, $txt) = login('jean.dupont', $pw{'jean.dupont'} . $code);
is($st, 'OK', 'IMAP LOGIN with password + current TOTP code succeeds') or diag $txt;
($st) = login('jean.dupont', $pw{'jean.dupont'} . $code);
is($st, 'NO', 'the same code again within its step: refused (replay)');
($st) = login('jean.dupont', $pw{'jean.dupont'} . code(time - 60));
is($st, 'NO', 'a code two steps old: refused');
($st) = login('jean.dupont', 'Wrong-password' . code(time + 30));
is($st, 'NO', 'a wrong password with a right code: refused');
($st) = login('jean.dupont', $pw{'jean.dupont'});
is($st, 'NO', 'the password alone: refused');
($st, $txt) = login('marie.curie', $pw{'marie.curie'});
like($txt, qr/second factor is required/, 'an account without a second factor is told to enrol one');

# --- device passwords
($rc, $out, $err) = cli('device', 'add', 'jean.dupont', 'Thunderbird cabinet');
chomp(my $device = $out);
like($device, qr/^d\d+-[a-z2-9]{5}(-[a-z2-9]{5}){3}$/, 'device add prints a device password once');
($st) = login('jean.dupont', $device) for 1 .. 3;
is($st, 'OK', 'the device password logs in, again and again');
($st, $txt) = login('jean.dupont@a.mssante.test', $device);
is($st, 'OK', 'also with the BAL address as login') or diag $txt;
like((cli('device', 'list', 'jean.dupont'))[1], qr/Thunderbird cabinet\s+\S+ \S+\s+\d{4}-\d\d-\d\d/, 'device list shows its last use');
($rc) = cli('device', 'revoke', 'jean.dupont', 'Thunderbird cabinet');
is($rc, 0, 'device revoke');
($st) = login('jean.dupont', $device);
is($st, 'NO', 'a revoked device password is refused');
($rc, $out, $err) = cli('device', 'add', 'jean.dupont', 'Phone');
chomp(my $phone = $out);
(my $forged = $phone) =~ s/^d(\d+)-/'d' . ($1 - 1) . '-'/e;
($st) = login('jean.dupont', $forged);
is($st, 'NO', 'a device password presented under another device\'s number: refused');

# --- the same over SMTP submission
(undef, my $smtp_dev) = cli('device', 'add', 'jean.dupont', 'Logiciel LPS');
chomp $smtp_dev;
is(submit('jean.dupont', $smtp_dev), 0, 'SMTP AUTH with a device password: the message is accepted')
    or diag Sandbox::slurp("$dir/swaks.out");
is(submit('jean.dupont', $smtp_dev), 0, 'and again (the client reconnects with the same password)');
cli('device', 'revoke', 'jean.dupont', 'Logiciel LPS');
isnt(submit('jean.dupont', $smtp_dev), 0, 'revoked: SMTP AUTH refused');
like(Sandbox::slurp("$dir/swaks.out"), qr/<~?\*\* +535 5\.7\.8/, 'with 535 5.7.8');

# --- e-mailed codes
my %seen_mail;
# mailed_code - the code of the newest message in paul's contact mailbox
sub mailed_code {
    for (1 .. 100) {
        for my $f (sort glob("$dc->{maildir}/perso.test/paul/new/*")) {
            next if $seen_mail{$f}++;
            my $m = Sandbox::slurp($f);
            return ($m =~ /: (\d{6})\n/)[0], $m;
        }
        select undef, undef, undef, 0.1;
    }
    return;
}
($st, $txt) = login('paul.martin', $pw{'paul.martin'});
is($st, 'NO', 'e-mail method: the password alone does not log in');
like($txt, qr/A code was sent to your contact address/, 'the answer says a code was sent');
my ($mcode, $mail) = mailed_code();
like($mcode, qr/^\d{6}$/, 'a mail with a 6-digit code reaches the contact mailbox') or diag Sandbox::tail($pf->{maillog});
like($mail, qr/^From: no-reply\@a\.mssante\.test$/m, 'from the system sender');
like($mail, qr/^X-MSSante-Trust: local$/m, 'through milter-whitelist, which let the exempt sender out');
system("printf 'Subject: other\\n\\nx\\n' | sendmail -C $pf->{config_dir} -f jean.dupont\@a.mssante.test paul\@perso.test");
$sb->postqueue_empty($pf, 30);
like(Sandbox::slurp($pf->{maillog}), qr/milter-reject: END-OF-MESSAGE .*outside the MSSante trust space.*paul\@perso\.test/,
     'any other local sender to the contact address is refused: only the code route is open');
is(length($mail =~ s/^.*?\n\n//sr) < 400 && $mail !~ /patient|INS|diagnostic/i, 1, 'a short message with nothing but the code');
($st) = login('paul.martin', $pw{'paul.martin'} . $mcode);
is($st, 'OK', 'password + that code logs in');
($st) = login('paul.martin', $pw{'paul.martin'} . $mcode);
is($st, 'NO', 'the same code a second time: refused');
login('paul.martin', $pw{'paul.martin'});
($mcode) = mailed_code();
q1("UPDATE email_code SET expires_at = now() - interval '1 second'");       # eleven minutes later
($st) = login('paul.martin', $pw{'paul.martin'} . $mcode);
is($st, 'NO', 'an expired code: refused');
login('paul.martin', $pw{'paul.martin'});
($mcode) = mailed_code();
my $wrong = sprintf '%06d', ($mcode + 1) % 1000000;
login('paul.martin', $pw{'paul.martin'} . $wrong) for 1 .. 5;
($st) = login('paul.martin', $pw{'paul.martin'} . $mcode);
is($st, 'NO', 'after 5 wrong codes the right one is void');
is(q1("SELECT string_agg(result, ',' ORDER BY id) FROM audit_event WHERE actor = 'paul.martin'"),
   'code-sent,ok,bad-code,code-sent,bad-code,code-sent,bad-code,bad-code,bad-code,bad-code,bad-code,bad-code',
   'the audit trail follows every step');
cli('unlock', 'paul.martin');

# --- a delegate opens the ORG BAL with their own credentials; nobody else does
q1("INSERT INTO bal (address, bal_type) VALUES ('secretariat\@a.mssante.test', 'ORG')");
q1("INSERT INTO bal_access SELECT id, 'secretariat\@a.mssante.test', 'delegate' FROM account WHERE login = 'jean.dupont'");
$imap = $sb->imap($dc->{imap_port}, 'secretariat@a.mssante.test*jean.dupont', $phone);
ok($imap->login_ok, 'the delegate opens the ORG BAL with BAL*login and their own device password')
    or diag $imap->login_text;
$imap->cmd('SELECT INBOX');
$imap->logout;
ok(-d "$dc->{maildir}/a.mssante.test/secretariat/cur", 'the mailbox opened is the ORG BAL\'s');
is(q1("SELECT actor || ' ' || bal || ' ' || result FROM audit_event ORDER BY id DESC LIMIT 1"),
   'jean.dupont secretariat@a.mssante.test ok', 'the audit trail records who opened it');
(undef, my $marie_phone) = cli('device', 'add', 'marie.curie', 'Phone');
chomp $marie_phone;
($st) = login('marie.curie', $marie_phone);
is($st, 'OK', 'marie.curie\'s own credentials are valid');
($st) = login('secretariat@a.mssante.test*marie.curie', $marie_phone);
is($st, 'NO', 'but she is not a delegate of the ORG BAL: refused');
is(q1("SELECT result FROM audit_event ORDER BY id DESC LIMIT 1"), 'not-delegate', 'recorded as not-delegate');

# --- several BALs: one per place of practice, a default one
q1("INSERT INTO bal (address) VALUES ('dupont.cabinet\@a.mssante.test')");
q1("INSERT INTO bal_access SELECT id, 'dupont.cabinet\@a.mssante.test', 'owner' FROM account WHERE login = 'jean.dupont'");
# last_bal - the BAL the newest audit row names
sub last_bal { q1("SELECT coalesce(bal, '-') || ' ' || result FROM audit_event ORDER BY id DESC LIMIT 1") }
($st, $txt) = login('jean.dupont', $phone);
is($st . ' ' . last_bal(), 'OK dupont.cabinet@a.mssante.test ok',
   'two owned BALs and no default: the login works and opens the first in address order') or diag $txt;
q1("UPDATE account SET default_bal = 'jean.dupont\@a.mssante.test' WHERE login = 'jean.dupont'");
($st) = login('jean.dupont', $phone);
is($st . ' ' . last_bal(), 'OK jean.dupont@a.mssante.test ok', 'prenom.nom opens the default BAL');
($st) = login('dupont.cabinet@a.mssante.test*jean.dupont', $phone);
is($st . ' ' . last_bal(), 'OK dupont.cabinet@a.mssante.test ok', 'BAL*prenom.nom opens the other owned BAL');
($st) = login('dupont.cabinet@a.mssante.test', $phone);
is($st . ' ' . last_bal(), 'OK dupont.cabinet@a.mssante.test ok', 'so does the address of that BAL as login');
($st) = login('secretariat@a.mssante.test*jean.dupont', $phone);
is($st . ' ' . last_bal(), 'OK secretariat@a.mssante.test ok', 'and the ORG BAL it is delegate of');
q1("UPDATE account SET default_bal = 'secretariat\@a.mssante.test' WHERE login = 'marie.curie'");
($st) = login('marie.curie', $marie_phone);
is($st . ' ' . last_bal(), 'OK marie.curie@a.mssante.test ok', 'a default BAL the account may not open is ignored');

# --- lock-out per client address: a stranger locks out only their own address
cli('unlock', 'jean.dupont');               # count from zero
my $attacker = '127.0.0.9';
my $before_attack = q1("SELECT max(id) FROM audit_event");
login('jean.dupont', "wrong-$_", $attacker) for 1 .. 50;
my ($locked_text) = (login('jean.dupont', $phone, $attacker))[1];
is(q1("SELECT string_agg(result || ' x' || n, ', ' ORDER BY min) FROM (SELECT result, count(*) n, min(id)"
      . " FROM audit_event WHERE actor = 'jean.dupont' AND id > $before_attack GROUP BY result) x"), 'fail x10, locked x41',
   '50 wrong passwords from one address: the 10th locks it, the 40 after and the right device password are refused as locked');
is(q1("SELECT host(remote_ip) || ' ' || detail FROM audit_event WHERE actor = 'jean.dupont'"
      . " AND detail IS NOT NULL ORDER BY id DESC LIMIT 1"),
   "$attacker address $attacker locked out for 60 s after 10 failures", 'the audit row says which address was locked');
($st) = login('jean.dupont', $phone);
is($st, 'OK', 'from another address the owner\'s device password logs in at once');
($st, $txt) = login('jean.dupont', $pw{'jean.dupont'} . code(time + 30));
is($st, 'OK', 'and so do password + code') or diag $txt;
($st) = login('jean.dupont', $phone, $attacker);
is($st, 'NO', 'the locked address stays refused, even with the right device password');
my ($wrong_text) = (login('jean.dupont', 'wrong-password'))[1];
my ($unknown_text) = (login('personne.inconnue', 'wrong-password'))[1];
is($locked_text, $wrong_text, 'the client reads the same for a locked address as for a wrong password');
is($unknown_text, $wrong_text, 'and for an unknown login') or diag "$locked_text / $unknown_text / $wrong_text";
unlike($locked_text, qr/lock/i, 'no word of a lock-out to the client');
like(Sandbox::slurp($dc->{log}), qr/Warning: .*jean\.dupont: address 127\.0\.0\.9 locked out for 60 s after 10 failures/,
     'the lock-out is in the log');
my $lock_secs = "SELECT extract(epoch FROM locked_until - last_failure)::int FROM login_failure f JOIN account a"
              . " ON a.id = f.account_id WHERE login = 'jean.dupont' AND client = '$attacker'";
ok(abs(q1($lock_secs) - 60) <= 5, 'locked for otp_lockout_time (60 s)');
q1("UPDATE login_failure SET locked_until = now() - interval '1 second'");    # the back-off is over
login('jean.dupont', 'wrong-again', $attacker);
ok(abs(q1($lock_secs) - 120) <= 5, 'one more failure right after: locked again, twice as long');
q1("UPDATE login_failure SET locked_until = now() - interval '1 second'");
($st) = login('jean.dupont', $phone, $attacker);
is($st, 'OK', 'once the back-off ends the right credentials log in from there too');
is(q1("SELECT count(*) FROM login_failure WHERE client = '$attacker'"), 0, 'and the success clears that address');
login('jean.dupont', "wrong-$_", $attacker) for 1 .. 10;
($rc, $out) = cli('unlock', 'jean.dupont', $attacker);
like($out, qr/^jean\.dupont: unlocked: 127\.0\.0\.9 \(locked out\)$/m, 'mssante-otp unlock LOGIN ADDRESS names what it cleared');
($st) = login('jean.dupont', $phone, $attacker);
is($st, 'OK', 'after mssante-otp unlock the address logs in again');
# The login's own ceiling (100 failures an hour from all addresses): past
# it each failing address is locked at its first failure, the owner never.
q1("UPDATE otp_state SET window_start = now(), window_failures = 99 WHERE account_id ="
   . " (SELECT id FROM account WHERE login = 'jean.dupont')");
login('jean.dupont', 'wrong-once', '127.0.0.30');
($st) = login('jean.dupont', $phone, '127.0.0.30');
is($st, 'NO', 'past the login\'s ceiling one failure locks the address');
like(Sandbox::slurp($dc->{log}), qr/jean\.dupont: 100 failed logins from all addresses within 3600 s/,
     'and the log says the login is under attack');
($st) = login('jean.dupont', $phone);
is($st, 'OK', 'the owner\'s device password still logs in at once');
# A code of a step not used yet (the next step's code was used above).
my $last_step = q1("SELECT last_step FROM otp_state o JOIN account a ON a.id = o.account_id WHERE login = 'jean.dupont'");
sleep 1 while int((time + 30) / 30) <= $last_step;
($st) = login('jean.dupont', $pw{'jean.dupont'} . code(time + 30));
is($st, 'OK', 'and so do the owner\'s password and a new code');
($rc, $out) = cli('unlock', 'jean.dupont');
like($out, qr/127\.0\.0\.30 \(locked out\)/, 'mssante-otp unlock LOGIN clears every address');
is(q1("SELECT window_failures FROM otp_state o JOIN account a ON a.id = o.account_id WHERE login = 'jean.dupont'"), 0,
   'and the login\'s ceiling');

# --- PostgreSQL down: a temporary failure, never a success; back up: logins work
# Several auth workers, each with its connection: logins at once.
sub logins_at_once {
    my ($n) = @_;
    my @kids = map {
        my $pid = fork // die "fork: $!";
        if (!$pid) { my ($r) = login('jean.dupont', $phone); exit($r eq 'OK' ? 0 : 1) }
        $pid;
    } 1 .. $n;
    return scalar grep { waitpid($_, 0); $? == 0 } @kids;
}
is(logins_at_once(6), 6, 'six logins at once');
$pg->{stop}->() or die 'pg stop';
$imap = $sb->imap($dc->{imap_port}, 'jean.dupont', $phone);
like($imap->login_text, qr/\[UNAVAILABLE\]|Temporary authentication failure/, 'PostgreSQL down: temporary failure')
    or diag $imap->login_text;
ok(!$imap->login_ok, 'and no success');
$imap->logout;
$pg->{start}->();
# Every auth worker held a connection the restart dropped: logins at once
# from several clients reach several workers, and each must succeed.
is(logins_at_once(6), 6, 'PostgreSQL back: the first logins in every auth worker succeed (6 at once)')
    or diag Sandbox::tail($dc->{log});
like(Sandbox::slurp($dc->{log}), qr/connection to PostgreSQL lost .*connecting again/,
     'a worker saw its connection dropped and made a new one');

# --- every password scheme Dovecot offers for the account password
for my $scheme (qw(ARGON2ID BLF-CRYPT SHA512-CRYPT)) {
    chomp(my $hash = Sandbox::run('doveadm', 'pw', '-s', $scheme, '-p', "Pw-$scheme"));
    (my $login = lc "scheme.$scheme") =~ s/-//g;
    q1("INSERT INTO account (login, password) VALUES ('$login', '$hash')");
    q1("INSERT INTO bal (address) VALUES ('$login\@a.mssante.test')");
    q1("INSERT INTO bal_access SELECT id, '$login\@a.mssante.test', 'owner' FROM account WHERE login = '$login'");
    my (undef, $t1) = login($login, "Pw-$scheme");
    my (undef, $t2) = login($login, "Pw-$scheme-wrong");
    ok($t1 =~ /second factor is required/ && $t2 !~ /second factor/, "{$scheme} account password verified (right one told to enrol, wrong one not)");
}

# --- the audit trail and the logs
is(q1("SELECT count(*) FROM audit_event WHERE actor = 'jean.dupont' AND action = 'login'"), 105,
   'one audit row per login attempt that reached the database');
is(q1("SELECT count(*) FROM audit_event WHERE actor = 'jean.dupont' AND result = 'ok' AND request LIKE 'device%'"), 28,
   'device logins recorded as such');
($rc, $out) = cli('audit', 'jean.dupont');
like($out, qr/^\S+ \S+\s+login\s+jean\.dupont\@a\.mssante\.test\s+imap\s+127\.0\.0\.1\s+device Phone\s+ok$/m,
     'mssante-otp audit lists the logins: when, BAL, service, client, how, result');
like($out, qr/\s+unlock\s+-\s+admin\s+-\s+jean\.dupont: .*\s+ok$/m, 'and the administrator\'s changes');
my $logs = join '', map { Sandbox::slurp($_) } grep { -f } glob("$dir/*/*.log"), glob("$dir/*.log"), glob("$dir/*/*/*.log");
for my $s ($pw{'jean.dupont'}, $pw{'paul.martin'}, $device, $phone, $secret, $code, $mcode) {
    unlike($logs, qr/\Q$s\E/, 'no password, device password, secret or code in any log');
}
my @reports = $sb->sanitizer_reports;
is(scalar @reports, 0, 'no sanitizer report from the auth module') or diag @reports;

done_testing();
