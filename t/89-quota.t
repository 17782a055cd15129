#!/usr/bin/perl
# Quota with the real Postfix, Dovecot (shipped dovecot-quota.conf, SQL
# userdb) and PostgreSQL: a BAL filled to its quota gets 452 4.2.2 at RCPT
# from Postfix (quota-status); a message already queued waits in the queue
# (LMTP 452, never a bounce) and is delivered once the quota is raised with
# mssante-admin; GETQUOTAROOT shows the usage; the 80 % and 95 % warnings
# reach the holder's contact mailbox and hold nothing of any message.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use JSON::PP;
use Net::SMTP;
use Time::HiRes qw(sleep time);
use Sandbox;

my $sb = Sandbox->new;
my $dir = $sb->dir;
my ($pg, $conf) = $sb->migrated;
my $pfdir = "$dir/postfix-a/etc";
Sandbox::write_file($conf, Sandbox::slurp($conf) . "our_domains = a.mssante.test\n"
    . "otp_email_sender = notices\@a.mssante.test\notp_sendmail = /usr/sbin/sendmail -C $pfdir\n");
my $admin = $sb->bin('mssante-admin');
sub adm {
    my ($rc, $out, $err) = $sb->command('', $admin, '-c', $conf, @_);
    is($rc, 0, "mssante-admin @_") or diag $err;
    return $out . $err;
}
Sandbox::write_file("$dir/form.csv", "login;nom;prenom;email_contact;bal;rpps_adeli;quota_mo\n"
    . "jean.dupont;DUPONT;Jean;jean\@perso.test;jean.dupont\@a.mssante.test;10001234567;1\n");
adm('import', "$dir/form.csv", '--apply');
my $dev = Sandbox::run($sb->bin('mssante-otp'), '-c', $conf, 'device', 'add', 'jean.dupont', 'test') =~ /^(d\d+-\S+)$/m
    ? $1 : 'none';

my $dc = $sb->dovecot(auth_modules => [$sb->build . '/dovecot/auth/libauthdb_mssante_otp.so'],
                      passdb => "  driver = mssante_otp\n  args = $conf", userdb_sql => 1,
                      quota => { admin => $admin, conf => $conf });
# The holder's own mailbox, outside MSSanté.
my $contact = $sb->dovecot(name => 'contact', users => { 'jean@perso.test' => 'Mot-de-passe-perso' });
my $pf = $sb->postfix(name => 'a', addr => '127.0.0.2', hostname => 'mx.a.mssante.test', pgsql => 1,
    lmtp => "inet:127.0.0.1:$dc->{lmtp_port}",
    transport => { 'perso.test' => "lmtp:inet:127.0.0.1:$contact->{lmtp_port}" },
    main => { smtpd_recipient_restrictions =>
                  "reject_unauth_destination, check_policy_service unix:$dc->{dir}/run/quota-status" });

# send - one message of about kb KB over SMTP (SIZE given); (code, text) of RCPT, or of the end of DATA
sub send_kb {
    my ($id, $kb) = @_;
    my $body = join '', map { ('x' x 75) . "\r\n" } 1 .. int($kb * 1024 / 77);
    my $msg = "From: <sender\@b.mssante.test>\r\nTo: <jean.dupont\@a.mssante.test>\r\nSubject: $id\r\n"
            . "Message-ID: <$id\@b.test>\r\n\r\nCONFIDENTIEL $id\r\n$body";
    my $s = Net::SMTP->new('127.0.0.2', Port => $pf->{smtp_port}, Timeout => 30) or return (0, "connect: $@");
    $s->mail('sender@b.mssante.test', Size => length $msg);
    $s->data($msg) if $s->to('jean.dupont@a.mssante.test');
    my @r = ($s->code, join '', $s->message);
    $s->quit;
    return @r;
}
sub inbox { scalar(() = glob "$dc->{maildir}/a.mssante.test/jean.dupont/{new,cur}/*") }
sub until_ok { my ($what, $secs) = @_; my $end = time + $secs; sleep 0.2 until $what->() || time > $end; $what->() }

# 1 MB: eight messages of 110 KB cross 80 %, the ninth 95 %.
my $n = 0;
for my $i (1 .. 9) {
    my ($code, $text) = send_kb("fill-$i", 110);
    $n++ if $code == 250;
    until_ok(sub { inbox() >= $n }, 20);
}
is($n, 9, 'nine messages of 110 KB accepted into a 1 MB BAL');
my ($code, $text) = send_kb('over', 110);
like("$code $text", qr/^452 4\.2\.2 .*Mailbox full/, 'the next one: 452 4.2.2 at RCPT (quota-status)')
    or diag Sandbox::tail($pf->{maillog});

# Already in the queue (local submission, no RCPT check): LMTP says 452, the queue keeps it.
my $msg = "From: <doc\@a.mssante.test>\nTo: <jean.dupont\@a.mssante.test>\nSubject: queued\n\n"
        . join('', map { ('y' x 75) . "\n" } 1 .. 1500);
open my $sm, '|-', "sendmail -C $pfdir -f doc\@a.mssante.test jean.dupont\@a.mssante.test" or die;
print $sm $msg;
close $sm;
ok(until_ok(sub { Sandbox::slurp($pf->{maillog}) =~ /status=deferred .*452 4\.2\.2/ }, 30),
   'a queued message to the full BAL is deferred (452 from LMTP), not bounced')
    or diag Sandbox::tail($pf->{maillog});
unlike(Sandbox::slurp($pf->{maillog}), qr/status=bounced/, 'nothing bounced');

my $imap = $sb->imap($dc->{imap_port}, 'jean.dupont', $dev);
my ($st, $t) = $imap->cmd('GETQUOTAROOT INBOX');
my ($used, $limit) = $t =~ /\* QUOTA "User quota" \(STORAGE (\d+) (\d+)\)/;
ok($limit && $limit == 1024 && $used >= 0.95 * 1024, "GETQUOTAROOT: ${\ ($used // '?')} KB of ${\ ($limit // '?')} KB")
    or diag $t;
$imap->logout;

# What the sysadmin sees: mssante-admin reads the usage from Dovecot.
Sandbox::write_file($conf, Sandbox::slurp($conf) . "admin_doveadm = /usr/bin/doveadm -c $dc->{conf}\n");
my ($rc, $out, $err) = $sb->command('', $admin, '-c', $conf, qw(bal show jean.dupont@a.mssante.test --json));
my $j = eval { JSON::PP->new->decode($out) } || {};
ok($j->{quota_kb} && $j->{quota_kb} == 1024 && $j->{usage_kb} == $used,
   "bal show: usage $j->{usage_kb} KB of $j->{quota_kb} KB, as GETQUOTAROOT") or diag $out, $err;
adm(qw(bal set jean.dupont@a.mssante.test --quota 5));
ok($sb->postqueue_empty($pf, 60) && until_ok(sub { inbox() == 10 }, 20),
   'the quota raised with mssante-admin: the queued message is delivered');
$imap = $sb->imap($dc->{imap_port}, 'jean.dupont', $dev);
($st, $t) = $imap->cmd('GETQUOTAROOT INBOX');
like($t, qr/\(STORAGE \d+ 5120\)/, 'GETQUOTAROOT shows the new limit');
$imap->logout;

# The warnings, in the holder's own mailbox.
my @warn;
until_ok(sub { @warn = map { Sandbox::slurp($_) } glob "$contact->{maildir}/perso.test/jean/new/*"; @warn >= 2 }, 30);
is(scalar @warn, 2, 'two warnings reached the contact mailbox (80 % and 95 %)')
    or diag Sandbox::tail($dc->{log});
is(join(' ', sort map { /est remplie \xc3\xa0 (\d+) %/ ? $1 : '?' } @warn), '80 95', 'they say how full');
is(scalar(grep { /fill-|CONFIDENTIEL|sender\@b\.mssante\.test|xxxxx/ } @warn), 0,
   'and hold no subject, body or sender of any message');
like($warn[0], qr/^From: notices\@a\.mssante\.test$/m, 'from the exempt sender');
like(adm(qw(quota list)), qr/^PER\s+500$/m, 'quota list: the default of each type');
adm(qw(quota default PER 2000));
is($pg->{psql}->("SELECT quota_mb FROM mail_box WHERE address = 'jean.dupont\@a.mssante.test'") .
   $pg->{psql}->("UPDATE bal SET quota_mb = NULL; SELECT quota_mb FROM mail_box"), "5\n2000\n",
   "a BAL's own quota first, else its type's default (what Dovecot's userdb reads)");
is($pg->{psql}->("SELECT string_agg(request, ',' ORDER BY id) FROM audit_event WHERE action = 'quota-warning'"),
   "jean.dupont\@a.mssante.test: 80,jean.dupont\@a.mssante.test: 95\n", 'each warning audited');
done_testing;
