#!/usr/bin/perl
# The sandbox itself: real PostgreSQL, slapd, Postfix and Dovecot on
# loopback, and the test PKI. Mail sent with swaks to Postfix is delivered
# over LMTP to Dovecot and read back over IMAP; a row goes through
# PostgreSQL; an entry comes back from slapd.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(time);
use Sandbox;

my $t0 = time;
my $sb = Sandbox->new;

# --- PKI shaped like IGC-Santé
my $pki = $sb->pki;
my $srv = $sb->issue(kind => 'server', cn => 'mx.a.mssante.test', ou => '318310021300028',
                     o => 'OPERATEUR A', st => 'Gironde (33)');
my $v = qx{openssl verify -CAfile $pki->{root}{cert} -untrusted $pki->{organisations}{cert} $srv->{cert} 2>&1};
like($v, qr/: OK$/m, 'server certificate verifies to the test IGC-Santé root');
my $subj = qx{openssl x509 -in $srv->{cert} -noout -subject -nameopt RFC2253};
like($subj, qr/subject=CN=mx\.a\.mssante\.test,OU=318310021300028,O=OPERATEUR A,ST=Gironde \(33\),C=FR/,
     'subject DN has the shape of an operator DN of the liste blanche');
my $sm = $sb->issue(kind => 'smime', ca => 'personnes', cn => 'DUPONT Jean', email => 'jean.dupont@a.mssante.test');
my $ext = qx{openssl x509 -in $sm->{cert} -noout -ext subjectAltName,extendedKeyUsage 2>&1};
like($ext, qr/email:jean\.dupont\@a\.mssante\.test/, 'S/MIME certificate names the mailbox');
like($ext, qr/E-mail Protection/, 'S/MIME certificate is for e-mail protection');

# --- PostgreSQL
my $pg = $sb->postgres;
$pg->{psql}->("CREATE TABLE probe (id int PRIMARY KEY, name text); INSERT INTO probe VALUES (1, 'Hélène SAINT-ÉTIENNE')");
is($pg->{psql}->("SELECT name FROM probe WHERE id = 1"), "Hélène SAINT-ÉTIENNE\n",
   'PostgreSQL stores and returns a UTF-8 row');

# --- slapd, with more entries than its default size limit of 500
my $ldif = join '', map {
    "dn: uid=user$_,dc=mssante,dc=test\nobjectClass: inetOrgPerson\nuid: user$_\n"
  . "cn: User $_\nsn: User\nmail: user$_\@a.mssante.test\n\n"
} 1 .. 3;
my $ld = $sb->slapd(ldif => $ldif);
my $res = qx{ldapsearch -x -LLL -H $ld->{uri} -b $ld->{base} '(uid=user2)' mail 2>&1};
like($res, qr/^mail: user2\@a\.mssante\.test$/m, 'slapd returns the entry loaded from LDIF');

# --- Dovecot and Postfix: SMTP in, LMTP across, IMAP out
my $dc = $sb->dovecot(users => { 'jean.dupont@a.mssante.test' => 'Secret-1' });
my $pf = $sb->postfix(name => 'a', addr => '127.0.0.2', domains => ['a.mssante.test'],
                      recipients => ['jean.dupont@a.mssante.test'],
                      lmtp => "inet:127.0.0.1:$dc->{lmtp_port}");
my $started = time - $t0;

my $token = "sandbox-" . int(rand(1e9));
my $swaks = qx{swaks --silent 2 --server 127.0.0.2 --port $pf->{smtp_port} --helo client.test --from sender\@b.mssante.test --to jean.dupont\@a.mssante.test --header "Subject: $token" --header "X-MSS-NIL: sandbox-test" --body "hello" 2>&1};
is($?, 0, 'swaks: Postfix accepted the message') or diag $swaks;
ok($sb->postqueue_empty($pf), 'Postfix queue drained') or diag Sandbox::tail($pf->{maillog});
like(Sandbox::slurp($pf->{maillog}), qr/to=<jean\.dupont\@a\.mssante\.test>.*relay=127\.0\.0\.1\[127\.0\.0\.1\]:$dc->{lmtp_port}.*status=sent/,
     'Postfix delivered over LMTP to Dovecot');

my $bad = $sb->imap($dc->{imap_port}, 'jean.dupont@a.mssante.test', 'wrong');
ok(!$bad->login_ok, 'IMAP login with a wrong password is refused');
my $imap = $sb->imap($dc->{imap_port}, 'jean.dupont@a.mssante.test', 'Secret-1');
ok($imap->login_ok, 'IMAP login with the right password') or diag $imap->login_text;
my ($st, $txt) = $imap->cmd('SELECT INBOX');
like($txt, qr/\* 1 EXISTS/, 'INBOX holds one message');
($st, $txt) = $imap->cmd('FETCH 1 (BODY.PEEK[HEADER.FIELDS (SUBJECT X-MSS-NIL)])');
like($txt, qr/Subject: \Q$token\E/, 'the message read over IMAP has the subject sent');
like($txt, qr/X-MSS-NIL: sandbox-test/, 'X-MSS-NIL header relayed untouched');
$imap->logout;

my $t1 = time;
$sb->stop;
my $stopped = time - $t1;
ok(!-d $sb->dir, 'sandbox directory removed at stop');
my $left = qx{ps -eo args | grep -F '$sb->{dir}' | grep -v grep};
is($left, '', 'no sandbox process left running');
diag sprintf('sandbox start %.2fs (PKI, PostgreSQL, slapd, Dovecot, Postfix), stop %.2fs', $started, $stopped);
done_testing;
