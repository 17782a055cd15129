#!/usr/bin/perl
# Software BALs (APP) log in over IMAP, and submit through Dovecot's
# submission service relaying to Postfix, with their IGC-Santé client
# certificate (SASL EXTERNAL), through the shipped snippets: the
# certificate's name must be the cert_name of exactly one APP BAL. Refused:
# a certificate asking for another BAL, one that no BAL names, an expired one,
# one from another CA, no certificate, and any password login to an APP
# BAL. People without a certificate log in as before.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Sandbox;

my $sb = Sandbox->new;
my $dir = $sb->dir;
my $top = $sb->top;
my ($pg, $conf) = $sb->migrated;
sub q1 { my $r = $pg->{psql}->($_[0]); chomp $r; $r }
my $pki = $sb->pki;
my $srv = $sb->issue(kind => 'server', cn => 'imap.a.mssante.test', o => 'OPERATEUR A');
my $radio = $sb->issue(kind => 'server', cn => 'LOGICIEL RADIOLOGIE', o => 'CHU TEST');
my $labo = $sb->issue(kind => 'server', cn => 'LOGICIEL LABO', o => 'CHU TEST');
my $unknown = $sb->issue(kind => 'server', cn => 'LOGICIEL INCONNU', o => 'CHU TEST');
my $expired = $sb->issue(kind => 'server', cn => 'LOGICIEL RADIOLOGIE', o => 'CHU TEST', name => 'radio-expired', expired => 1);
# The same name from a CA that is not IGC-Santé.
my $o = "$dir/other";
mkdir $o;
Sandbox::run('openssl', 'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '30', '-subj', '/C=FR/O=AUTRE/CN=AUTRE AC',
             '-keyout', "$o/ca.key", '-out', "$o/ca.pem", '-addext', 'basicConstraints=critical,CA:TRUE');
Sandbox::run('openssl', 'req', '-new', '-newkey', 'rsa:2048', '-nodes', '-subj', '/C=FR/O=CHU TEST/CN=LOGICIEL RADIOLOGIE',
             '-keyout', "$o/radio.key", '-out', "$o/radio.csr");
Sandbox::run('openssl', 'x509', '-req', '-in', "$o/radio.csr", '-CA', "$o/ca.pem", '-CAkey', "$o/ca.key",
             '-set_serial', '7', '-days', '30', '-out', "$o/radio.pem");
isnt(system("openssl x509 -in $expired->{cert} -noout -checkend 0 >/dev/null"), 0, 'the expired certificate has expired');

# A doctor, and two software BALs; a technician account owns the radiology one.
chomp(my $hash = Sandbox::run('doveadm', 'pw', '-s', 'SHA512-CRYPT', '-p', 'Mot-de-passe-1'));
q1("INSERT INTO account (login, password) VALUES ('jean.dupont', '$hash'), ('tech.radio', '$hash')");
q1("INSERT INTO bal (address) VALUES ('jean.dupont\@a.mssante.test')");
q1("INSERT INTO bal (address, bal_type, cert_name) VALUES ('radio\@a.mssante.test', 'APP', 'LOGICIEL RADIOLOGIE'),"
   . " ('labo\@a.mssante.test', 'APP', 'LOGICIEL LABO')");
q1("INSERT INTO bal_access SELECT id, 'jean.dupont\@a.mssante.test', 'owner' FROM account WHERE login = 'jean.dupont'");
q1("INSERT INTO bal (address, bal_type) VALUES ('ecg\@a.mssante.test', 'APP')");        # no certificate yet
q1("INSERT INTO bal_access SELECT id, b, 'owner' FROM account, unnest(ARRAY['radio\@a.mssante.test',"
   . " 'ecg\@a.mssante.test']) b WHERE login = 'tech.radio'");
my %dev;
for my $l (qw(jean.dupont tech.radio)) {
    ($dev{$l}) = Sandbox::run($sb->bin('mssante-otp'), '-c', $conf, 'device', 'add', $l, 'client') =~ /^(d\d+-\S+)$/m;
}

# The shipped snippets, with the test's certificate and CA paths.
my $tls = Sandbox::slurp("$top/conf/dovecot-client-tls.conf");
$tls =~ s{^ssl_cert = <.*$}{ssl_cert = <$srv->{chain}}m;
$tls =~ s{^ssl_key = <.*$}{ssl_key = <$srv->{key}}m;
my $app = Sandbox::slurp("$top/conf/dovecot-app-cert.conf");
$app =~ s{^ssl_ca = <.*$}{ssl_ca = <$pki->{bundle}}m or die 'ssl_ca line';
# Submission of software BALs: Dovecot's submission service, relaying to
# Postfix's loopback listener (the shipped lines, with the test's paths).
my $relay = Sandbox::free_port('127.0.0.2');
my $subport = Sandbox::free_port('127.0.0.1');
my $sub = Sandbox::slurp("$top/conf/dovecot-app-submission.conf");
$sub =~ s/^submission_relay_host = .*$/submission_relay_host = 127.0.0.2/m or die;
$sub =~ s/^submission_relay_port = .*$/submission_relay_port = $relay/m or die;
$sub =~ s/^    port = \d+$/    address = 127.0.0.1\n    port = $subport/m or die;
my $dc = $sb->dovecot(auth_modules => [$sb->build . '/dovecot/auth/libauthdb_mssante_otp.so'],
    passdb => "  driver = mssante_otp\n  args = $conf",
    extra => "$tls$app$sub" . "service auth {\n  unix_listener auth-smtp {\n    mode = 0666\n  }\n}\n");
my ($app_lines) = Sandbox::slurp("$top/conf/postfix-master.cf") =~ /^127\.0\.0\.1:10587 .*\n((?:  -o .*\n)+)/m;
# Each software BAL may send as itself only: the shipped pgsql map of the APP BALs.
my $senders = $sb->mail_conf('postfix-pgsql-app-senders.cf', "$dir/app-senders.cf");
my @app_args = map { s{^smtpd_sasl_path=.*}{smtpd_sasl_path=$dc->{dir}/run/auth-smtp}r
                     =~ s{pgsql:/etc/postfix/mssante-app-senders\.cf}{pgsql:$senders}r }
               $app_lines =~ /^  -o (\S+)$/mg;
ok(grep({ /smtpd_authorized_xclient_hosts/ } @app_args), 'the shipped submission-app listener');
ok(grep({ $_ eq "smtpd_sender_login_maps=pgsql:$senders" } @app_args), 'with the shipped senders map');
my $pf = $sb->postfix(name => 'a', addr => '127.0.0.2', domains => ['a.mssante.test'],
    recipients => ['jean.dupont@a.mssante.test'], lmtp => "inet:127.0.0.1:$dc->{lmtp_port}",
    main => { smtpd_tls_cert_file => $srv->{chain}, smtpd_tls_key_file => $srv->{key} },
    submission => { port => $relay, args => [map { s/^smtpd_authorized_xclient_hosts=.*/smtpd_authorized_xclient_hosts=127.0.0.0\/8/r } @app_args] });

# imap - one login over STARTTLS: "OK n" or "NO ..."
sub imap {
    my $cmd = join ' ', map { Sandbox::shell_quote($_) } '/usr/bin/python3', "$top/t/helpers/imap-tls.py",
        '127.0.0.1', $dc->{imap_port}, @_;
    my $out = qx{$cmd 2>&1};
    chomp $out;
    return $out;
}
sub last_audit { q1("SELECT actor || ' ' || coalesce(bal, '-') || ' ' || coalesce(request, '-') || ' ' || result"
                    . " FROM audit_event ORDER BY id DESC LIMIT 1") }

like(imap('--cert', $radio->{chain}, '--key', $radio->{key}, '--external'), qr/^OK \d+$/,
     'the radiology software logs in with its certificate (EXTERNAL)');
is(last_audit(), 'radio@a.mssante.test radio@a.mssante.test certificate LOGICIEL RADIOLOGIE ok',
   'the audit trail names the BAL and the certificate');
like(imap('--cert', $labo->{chain}, '--key', $labo->{key}, '--external'), qr/^OK/,
     'the laboratory software logs in with its own certificate');
is(last_audit(), 'labo@a.mssante.test labo@a.mssante.test certificate LOGICIEL LABO ok', 'and opens its own BAL');
like(imap('--cert', $labo->{chain}, '--key', $labo->{key}, '--external', 'radio@a.mssante.test'), qr/^NO/,
     'a certificate of another BAL asking for this one is refused');
like(imap('--cert', $unknown->{chain}, '--key', $unknown->{key}, '--external'), qr/^NO/,
     'a valid IGC-Sante certificate that no BAL names is refused');
is(last_audit(), 'logiciel inconnu - certificate logiciel inconnu fail', 'recorded with the name it carried');
like(imap('--cert', $expired->{chain}, '--key', $expired->{key}, '--external'), qr/^(NO|ERROR)/,
     'an expired certificate is refused');
like(imap('--cert', "$o/radio.pem", '--key', "$o/radio.key", '--external'), qr/^(NO|ERROR)/,
     'a certificate of the same name from another CA is refused');
like(imap('--external'), qr/^NO/, 'EXTERNAL without a certificate is refused');
like(imap('--login', 'radio@a.mssante.test', $dev{'tech.radio'}), qr/^NO/,
     'a password login to the APP BAL is refused, even with its owner\'s device password');
is(q1("SELECT result FROM audit_event WHERE actor = 'tech.radio' ORDER BY id DESC LIMIT 1"), 'certificate-only',
   'recorded as certificate-only');
like(imap('--login', 'radio@a.mssante.test*tech.radio', $dev{'tech.radio'}), qr/^NO/, 'and as BAL*login');
like(imap('--login', 'jean.dupont', $dev{'jean.dupont'}), qr/^OK/, 'a doctor without a certificate logs in as before');
like(imap('--login', 'ecg@a.mssante.test', $dev{'tech.radio'}), qr/^NO/,
     'an APP BAL with no certificate on record yet: no password login either');
# smtp - one message from a software BAL through Dovecot's submission service
sub smtp {
    my ($cert, $from, $subject) = @_;
    my $cmd = join ' ', map { Sandbox::shell_quote($_) } '/usr/bin/python3', "$top/t/helpers/smtp-tls.py",
        '127.0.0.1', $subport, $cert ? ('--cert', $cert->{chain}, '--key', $cert->{key}) : (), '--external',
        '--from', $from, '--to', 'jean.dupont@a.mssante.test', '--subject', $subject;
    my $out = qx{$cmd 2>&1};
    chomp $out;
    return $out;
}
like(smtp($radio, 'radio@a.mssante.test', 'compte-rendu-1'), qr/^250/,
     'SMTP: the radiology software submits with its certificate (AUTH EXTERNAL)');
ok($sb->postqueue_empty($pf), 'delivered') or diag Sandbox::tail($pf->{maillog});
my ($msg) = grep { Sandbox::slurp($_) =~ /^Subject: compte-rendu-1/m } glob("$dc->{maildir}/a.mssante.test/jean.dupont/new/*");
ok($msg, 'the doctor received it');
like(Sandbox::slurp($pf->{maillog}), qr/sasl_username=radio\@a\.mssante\.test/,
     'Postfix knew the sender as the BAL (XCLIENT LOGIN)');
like(smtp($radio, 'labo@a.mssante.test', 'usurpation'), qr/^553 .*not owned by user radio\@a\.mssante\.test/,
     'SMTP: another BAL\'s address as sender is refused by Postfix');
like(smtp($expired, 'radio@a.mssante.test', 'expired'), qr/^(5\d\d|ERROR)/, 'SMTP: an expired certificate is refused');
like(smtp(undef, 'radio@a.mssante.test', 'nocert'), qr/^5\d\d/, 'SMTP: no certificate, no EXTERNAL');

my @reports = $sb->sanitizer_reports;
is(scalar @reports, 0, 'no sanitizer report from the auth module') or diag @reports;
done_testing;
