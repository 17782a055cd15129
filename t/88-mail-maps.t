#!/usr/bin/perl
# PostgreSQL as the one source for the real Postfix and Dovecot: BALs made by
# mssante-admin (an import of the request form, no file edited by hand) get
# mail through the shipped pgsql maps (conf/postfix-pgsql-*.cf, read-only
# role) and Dovecot's SQL userdb (conf/dovecot-sql.conf.ext); a disabled BAL
# gets 550 5.1.1 at RCPT and opens for nobody; an alias delivers to its BAL;
# a database that does not answer is a temporary failure, never a refusal.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Net::SMTP;
use Time::HiRes qw(sleep time);
use Sandbox;

my $sb = Sandbox->new;
my $dir = $sb->dir;
my ($pg, $conf) = $sb->migrated;
Sandbox::write_file($conf, Sandbox::slurp($conf) . "our_domains = a.mssante.test\n");
my $admin = $sb->bin('mssante-admin');
sub adm {
    my $cmd = join ' ', map { Sandbox::shell_quote($_) } $admin, '-c', $conf, @_;
    my $out = qx{$cmd 2>&1 </dev/null};
    is($? >> 8, 0, "mssante-admin @_") or diag $out;
    return $out;
}
Sandbox::write_file("$dir/form.csv", join "\n",
    'login;civilite;nom;prenom;email_contact;bal;type;role;rpps_adeli;finess;service',
    'jean.dupont;Dr;DUPONT;Jean;jean@perso.test;jean.dupont@a.mssante.test;PER;;10001234567;;',
    'marie.curie;Mme;CURIE;Marie;marie@perso.test;cardio@a.mssante.test;ORG;;;330781196;Cardiologie',
    'jean.dupont;;;;;cardio@a.mssante.test;;delegue;;;', '');
adm('import', "$dir/form.csv", '--apply');

my $dc = $sb->dovecot(auth_modules => [$sb->build . '/dovecot/auth/libauthdb_mssante_otp.so'],
                      passdb => "  driver = mssante_otp\n  args = $conf", userdb_sql => 1,
                      extra => "auth_username_chars = abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ01234567890.-_\@*\n");
my $pf = $sb->postfix(name => 'a', addr => '127.0.0.2', hostname => 'mx.a.mssante.test', pgsql => 1,
                      lmtp => "inet:127.0.0.1:$dc->{lmtp_port}",
                      main => { smtpd_relay_restrictions => 'reject_unauth_destination' });

# rcpt - one message: the reply to RCPT TO (code and text), or when it was
# accepted the reply to the end of DATA
sub rcpt {
    my ($to, $id) = @_;
    my $s = Net::SMTP->new('127.0.0.2', Port => $pf->{smtp_port}, Timeout => 30) or return (0, "connect: $@");
    $s->mail('sender@b.mssante.test');
    $s->data("From: <sender\@b.mssante.test>\r\nTo: <$to>\r\nSubject: $id\r\nMessage-ID: <$id\@b.test>\r\n\r\n$id\r\n")
        if $s->to($to);
    my @r = ($s->code, join '', $s->message);
    $s->quit;
    return @r;
}
sub delivered {
    my ($bal, $id) = @_;
    my ($local, $domain) = split /\@/, $bal;
    my $end = time + 20;
    while (time < $end) {
        return 1 if grep { Sandbox::slurp($_) =~ /^Subject: \Q$id\E$/m }
                    glob "$dc->{maildir}/$domain/$local/new/*";
        sleep 0.2;
    }
    return 0;
}

my ($code, $text) = rcpt('jean.dupont@a.mssante.test', 'm1');
is($code, 250, 'RCPT to a BAL made by mssante-admin: 250') or diag $text;
ok(delivered('jean.dupont@a.mssante.test', 'm1'), 'delivered into it by Dovecot LMTP (SQL userdb)')
    or diag Sandbox::tail($pf->{maillog}), Sandbox::tail($dc->{log});
($code, $text) = rcpt('Cardio@A.MSSANTE.TEST', 'm2');
ok($code == 250 && delivered('cardio@a.mssante.test', 'm2'), 'an ORG BAL, the address in capitals')
    or diag $text;
($code, $text) = rcpt('personne@a.mssante.test', 'm3');
like("$code $text", qr/^550 5\.1\.1 /, 'an address of our domain that is no BAL: 550 5.1.1');
($code, $text) = rcpt('jean.dupont@b.mssante.test', 'm4');
like("$code $text", qr/^554 5\.7\.1 .*Relay access denied/, 'a domain with no BAL of ours: not ours (relay denied)');

adm(qw(bal disable jean.dupont@a.mssante.test));
($code, $text) = rcpt('jean.dupont@a.mssante.test', 'm5');
like("$code $text", qr/^550 5\.1\.1 /, 'after bal disable: 550 5.1.1 at RCPT');
my $dev = Sandbox::run($sb->bin('mssante-otp'), '-c', $conf, 'device', 'add', 'jean.dupont', 'test') =~ /^(d\d+-\S+)$/m
    ? $1 : 'none';
my $imap = $sb->imap($dc->{imap_port}, 'jean.dupont', $dev);
ok(!$imap->login_ok, 'and nobody opens it') or diag $imap->login_text;
$imap->logout;
adm(qw(bal enable jean.dupont@a.mssante.test));
($code, $text) = rcpt('jean.dupont@a.mssante.test', 'm6');
ok($code == 250 && delivered('jean.dupont@a.mssante.test', 'm6'), 'enabled again: delivered') or diag $text;
$imap = $sb->imap($dc->{imap_port}, 'jean.dupont', $dev);
my ($st, $t) = $imap->cmd('SELECT INBOX');
like($t, qr/\* 2 EXISTS/, 'the owner reads the BAL over IMAP (the SQL userdb gives the mailbox)');
$imap->logout;
$imap = $sb->imap($dc->{imap_port}, 'cardio@a.mssante.test*jean.dupont', $dev);
($st, $t) = $imap->cmd('SELECT INBOX');
like($t, qr/\* 1 EXISTS/, 'the delegate reads the ORG BAL');
$imap->logout;

adm(qw(alias add ancien.dupont@a.mssante.test jean.dupont@a.mssante.test));
($code, $text) = rcpt('ancien.dupont@a.mssante.test', 'm7');
ok($code == 250 && delivered('jean.dupont@a.mssante.test', 'm7'), 'mail to an alias reaches its BAL') or diag $text;
adm(qw(bal delete cardio@a.mssante.test));
($code, $text) = rcpt('cardio@a.mssante.test', 'm8');
like("$code $text", qr/^550 5\.1\.1 /, 'after bal delete: 550 5.1.1');
(undef, $text) = rcpt('jean.dupont@a.mssante.test', 'm8b');
like($text, qr/queued as/, 'the replies above were the end of DATA for accepted messages');

# The database stops: "try again later", never "no such user".
$pg->{stop}->() or BAIL_OUT('pg_ctl stop');
($code, $text) = rcpt('jean.dupont@a.mssante.test', 'm9');
like("$code $text", qr/^4\d\d 4\.\d\.\d /, "PostgreSQL down: a temporary failure at RCPT ($code)");
$pg->{start}->() or BAIL_OUT('pg_ctl start');
# Postfix's pgsql client leaves a host it could not reach alone for 60 s
# (retry_interval); the loop allows twice that on a loaded machine.
my $end = time + 150;
# Until the whole transaction is accepted, as a sending MTA retries.
($code, $text) = rcpt('jean.dupont@a.mssante.test', 'm9') until ($code // 0) == 250 || time > $end
    || !sleep 0.5;
is($code, 250, 'back up: Postfix accepts the message again') or diag "$code $text", Sandbox::tail($pf->{maillog});
# Dovecot's first query on its dropped connection fails too (451 from LMTP): the queue retries.
ok($sb->postqueue_empty($pf, 120) && delivered('jean.dupont@a.mssante.test', 'm9'),
   'and Dovecot delivers it once its own connection is back')
    or diag Sandbox::tail($pf->{maillog}), Sandbox::tail($dc->{log});

my %main = Sandbox::slurp("$pf->{config_dir}/main.cf") =~ /^(virtual_\w+(?:maps|domains)) = (.*)$/mg;
is(join(' ', map { "$_=" . ($main{$_} =~ s/:\S*//gr) } sort keys %main),
   'virtual_alias_maps=proxy virtual_mailbox_domains=proxy virtual_mailbox_maps=proxy',
   'Postfix had no other source: every map is proxy:pgsql with the shipped files');
done_testing;
