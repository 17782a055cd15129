#!/usr/bin/perl
# The demonstration and the sandbox as a person uses them: "t/sandbox up"
# leaves the two-operator world running and writes its env file, with
# which swaks and an IMAP login reach it; "down" leaves nothing behind.
# "t/sandbox demo" (what make demo runs) plays the scripted day and ends
# with every step ok, twice in a row; with the trust-anchor file removed
# it fails at the liste blanche installation and says why.
use strict;
use warnings;
use utf8;
use FindBin;
use lib "$FindBin::Bin/lib";
use File::Temp qw(tempdir);
use Test::More;
use Sandbox;
use Smime;

binmode(Test::More->builder->$_, ':encoding(UTF-8)') for qw(output failure_output);
my $sandbox = "$FindBin::Bin/sandbox";
my $tmp = tempdir('mssante-demo-t-XXXXXX', TMPDIR => 1, CLEANUP => 1);
$ENV{MSSANTE_SANDBOX_ENV} = "$tmp/sandbox.env";

# left - processes whose command line or working directory is in a directory
# (Postfix's master names no path but works in its queue directory)
sub left {
    my ($dir) = @_;
    return grep {
        my ($pid) = /^\s*(\d+)/;
        $pid != $$ && (/\Q$dir\E/ || (readlink("/proc/$pid/cwd") // '') =~ /^\Q$dir\E/)
    } split /\n/, qx{ps -eo pid=,args=};
}

# --- t/sandbox up: the env file, then real clients against it
my $out = qx{perl $sandbox up 2>&1};
is($?, 0, 't/sandbox up starts the world') or diag $out;
my %e = map { /^(\w+)=(?:'(.*)'|(.*))$/ ? ($1, $2 // $3) : () } split /\n/, Sandbox::slurp("$tmp/sandbox.env");
ok($e{MSSANTE_SANDBOX_DIR} && -d $e{MSSANTE_SANDBOX_DIR}, 'the env file names the sandbox directory');
for my $k (qw(A_SMTP_PORT A_SUBMISSION_PORT A_IMAP_PORT B_SMTP_PORT B_IMAP_PORT CNAM_SMTP_PORT PG_CONNINFO
              A_DEVICE_PASSWORD B_TOTP_SECRET CA_BUNDLE)) {
    ok($e{$k}, "env file: $k") or diag $out;
}
like(qx{perl $sandbox status 2>&1}, qr/sandbox running/, 't/sandbox status: running');
# Operator A's portal, through nginx with the sandbox's certificate
my $page = $e{A_PORTAL_URL} && $e{A_PORTAL_PORT}
    ? qx{curl -s --cacert '$e{CA_BUNDLE}' --resolve '$e{A_PORTAL_HOST}:$e{A_PORTAL_PORT}:127.0.0.1' '$e{A_PORTAL_URL}connexion'} : '';
like($page, qr/<form[^>]+action="\/connexion"/, 'A_PORTAL_URL: the portal\'s sign-in page over HTTPS') or diag $out;

my $subject = 'sandbox-' . int(rand 1e9);
my ($rc, $t) = Sandbox::swaks($e{A_SMTP_HOST}, $e{A_SUBMISSION_PORT}, auth => [$e{A_LOGIN}, $e{A_DEVICE_PASSWORD}],
                              from => $e{A_USER}, to => [$e{B_USER}], subject => $subject);
is($rc, 0, 'swaks: A\'s submission accepts Dr DUPONT\'s device password and a message for B') or diag $t;
($rc, $t) = Sandbox::swaks($e{A_SMTP_HOST}, $e{A_SUBMISSION_PORT}, auth => [$e{A_LOGIN}, 'wrong'],
                           from => $e{A_USER}, to => [$e{B_USER}], subject => 'no');
like($t, qr/535 5\.7\.8/, 'a wrong password: 535 5.7.8');
($rc, $t) = Sandbox::swaks($e{B_SMTP_HOST}, $e{B_SMTP_PORT}, local => '127.0.0.5', tls => 1,
                           from => $e{A_USER}, to => [$e{B_USER}], subject => 'no-cert');
like($t, qr/550 5\.7\.1 A verified IGC-Sante client certificate is required/,
     'B\'s inbound port without a client certificate: 550 5.7.1') or diag $t;

my ($h, $imap);
for (1 .. 60) {
    $imap = Sandbox::IMAP->new($e{B_IMAP_HOST}, $e{B_IMAP_PORT}, $e{B_LOGIN}, $e{B_DEVICE_PASSWORD});
    $h = $imap->find('INBOX', $subject);
    $imap->logout;
    last if $h;
    sleep 1;
}
ok($h, 'the message reached Dr MARTIN\'s INBOX at B');
like(Smime::header($h // '', 'X-MSSante-SMIME'), qr/verified=yes; .*decrypted=yes/, 'signed and encrypted by A, verified and decrypted by B');
# Her password followed by a code from oathtool: the next step's, the
# current one may be the code that confirmed her enrolment.
my $code = qx{oathtool --totp -N 'now + 30 seconds' -b $e{B_TOTP_SECRET}};
chomp $code;
$imap = Sandbox::IMAP->new($e{B_IMAP_HOST}, $e{B_IMAP_PORT}, $e{B_LOGIN}, $e{B_PASSWORD} . $code);
ok($imap->login_ok, 'IMAP login with password + TOTP code') or diag $imap->login_text;
$imap->logout;
$imap = Sandbox::IMAP->new($e{B_IMAP_HOST}, $e{B_IMAP_PORT}, $e{B_LOGIN}, $e{B_PASSWORD});
ok(!$imap->login_ok, 'IMAP login with the password alone: refused');
$imap->logout;
is(qx{psql '$e{PG_CONNINFO}' -Atqc 'SELECT count(*) > 1000 FROM annuaire_bal'}, "t\n",
   'psql reaches the database with PG_CONNINFO: the annuaire is loaded');

$out = qx{perl $sandbox down 2>&1};
is($?, 0, 't/sandbox down') or diag $out;
ok(!-e $e{MSSANTE_SANDBOX_DIR}, 'the sandbox directory is gone');
ok(!-e "$tmp/sandbox.env", 'the env file is gone');
is(join("\n", left($e{MSSANTE_SANDBOX_DIR})), '', 'no process of the sandbox left');
like(qx{perl $sandbox status 2>&1}, qr/not running/, 't/sandbox status: not running');

# --- the demonstration, twice
for my $run (1, 2) {
    $out = qx{perl $sandbox demo 2>&1};
    utf8::decode($out);
    is($?, 0, "demo run $run: exit 0") or diag $out;
    my ($summary) = $out =~ /\nSummary\n(.*)\z/s;
    my @ok = ($summary // '') =~ /^([0-6])\. .*\bok$/mg;
    is("@ok", '0 1 2 3 4 5 6', "demo run $run: the summary shows steps 0 to 6 ok");
    like($out, qr/Every step went as expected/, "demo run $run: says so");
    my ($dir) = $out =~ m{host=(/\S+?)/pg/run};
    ok($dir && !-e $dir, "demo run $run: its directory is removed");
    is(join("\n", left($dir // 'none')), '', "demo run $run: no process left");
}
# What each step showed, checked on the output of the last run
like($out, qr/^Before she activates it, IMAP answers: refused \(\[ALERT\] This account is not activated yet/m,
     'step 0 shows IMAP refusing the account not yet activated');
ok($out =~ /^  ok: the code from oathtool confirms the app; the account page says so$/m
     && $out =~ /^  ok: sophie\.bernard logs in over IMAP with her password and an app code$/m,
     'step 0: enrolled in the browser, then IMAP with password and code');
like($out, qr/^\s+█+$/m, 'step 1 draws the QR code');
like($out, qr/^\s+X-MSSante-SMIME: signed=yes; verified=yes; .*decrypted=yes/m, 'step 2 shows the S/MIME verdict');
like($out, qr/^Her mail software shows the keywords: \$MSSante \$SMIME-Encrypted \$SMIME-Signed$/m,
     'step 2 shows the keywords the marks plugin set');
like($out, qr/^\s+550 5\.7\.1 <dr\.house\@gmail\.com>: recipient outside the MSSante trust space/m,
     'step 3 shows the refusal');
like($out, qr/folders holding it: "Échanges Patients"$/m, 'step 4 names the patient folder');

# --- one part broken: the trust-anchor file
$out = qx{perl $sandbox demo --break trust-anchors 2>&1};
utf8::decode($out);
isnt($?, 0, 'demo with the trust-anchor file removed: non-zero exit');
like($out, qr/FAILED while setting up: operator A installs the liste blanche.*\n.*cannot read the trust anchors \S+igc-sante-ca\.pem: No such file or directory/,
     'it fails installing the liste blanche and names the missing trust-anchor file') or diag $out;
like($out, qr/^1\. OTP enrolment\s.*not run/m, 'the steps after it are not run');
my ($dir) = $out =~ m{trust-anchor file (/\S+?)/igc-sante-ca\.pem};
ok($dir && !-e $dir, 'its directory is removed');
is(join("\n", left($dir // 'none')), '', 'no process left');

done_testing;
