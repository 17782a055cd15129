#!/usr/bin/perl
# How long mail stays, and mail leaving, with the real Dovecot (shipped
# dovecot-retention.conf, SQL userdb) and PostgreSQL: the Trash loses what
# was put there more than 30 days ago (autoexpunge, dates set on the test
# messages with libfaketime); a folder's retention chosen over IMAP METADATA
# is applied by "mssante-admin expire" to old messages only; "export"
# round-trips a BAL (Maildir) and a folder (mbox): same count, same bytes;
# "inactive" lists, notifies, then deletes (after an export) a BAL nobody
# opens.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use JSON::PP;
use POSIX qw(strftime);
use Time::HiRes qw(sleep time);
use Sandbox;

my $sb = Sandbox->new;
my $dir = $sb->dir;
my ($pg, $conf) = $sb->migrated;
my $psql = $pg->{psql};
# The notices of "inactive --notify": what the local sendmail was given.
Sandbox::write_file("$dir/sendmail", "#!/bin/sh\n{ echo \"ARGS \$*\"; cat; } > $dir/notice.\$\$\n", 0755);
Sandbox::write_file($conf, Sandbox::slurp($conf) . "our_domains = a.mssante.test\n"
    . "otp_email_sender = notices\@a.mssante.test\notp_sendmail = $dir/sendmail\n");
my $admin = $sb->bin('mssante-admin');
sub adm { my @r = $sb->command('', $admin, '-c', $conf, @_); return @r }
sub adm_ok {
    my ($rc, $out, $err) = adm(@_);
    is($rc, 0, "mssante-admin @_") or diag $err;
    return ($out, $err);
}
my $jean = 'jean.dupont@a.mssante.test';
my $anne = 'anne.martin@a.mssante.test';
my $back = 'retour@a.mssante.test';
Sandbox::write_file("$dir/form.csv", "login;nom;prenom;email_contact;bal;rpps_adeli\n"
    . "jean.dupont;DUPONT;Jean;jean\@perso.test;$jean;10001234567\n"
    . "anne.martin;MARTIN;Anne;anne\@perso.test;$anne;10001234568\n"
    . "jean.dupont;DUPONT;Jean;jean\@perso.test;$back;10001234567\n");
adm_ok('import', "$dir/form.csv", '--apply');
my $dev = Sandbox::run($sb->bin('mssante-otp'), '-c', $conf, 'device', 'add', 'jean.dupont', 'test') =~ /^(d\d+-\S+)$/m
    ? $1 : 'none';

my $dc = $sb->dovecot(auth_modules => [$sb->build . '/dovecot/auth/libauthdb_mssante_otp.so'],
                      passdb => "  driver = mssante_otp\n  args = $conf", userdb_sql => 1,
                      extra => Sandbox::slurp("$FindBin::Bin/../conf/dovecot-retention.conf"));
Sandbox::write_file($conf, Sandbox::slurp($conf) . "admin_doveadm = /usr/bin/doveadm -c $dc->{conf}\n");
my @doveadm = ('doveadm', '-c', $dc->{conf});
sub doveadm { my ($rc, $out, $err) = $sb->command($_[0] // '', @doveadm, @_[1 .. $#_]); die "doveadm @_: $err" if $rc; $out }
my $faked = Sandbox::write_file("$dir/doveadm-faketime.conf",
    Sandbox::slurp($dc->{conf}) =~ s/^import_environment = .*$/import_environment = TZ/mr);
# save - a message into a folder, as if saved (and received) that many days ago
sub save {
    my ($user, $folder, $subject, $days_ago) = @_;
    my $msg = "From: <x\@b.mssante.test>\nSubject: $subject\nMessage-ID: <$subject\@b.test>\n\n"
            . "CONFIDENTIEL $subject\n" . ('z' x (100 * length $subject)) . "\n";
    # Read-only use of the faketime package's library (mk/deps.sh), whatever the architecture.
    local $ENV{LD_PRELOAD} = (glob '/usr/lib/*/faketime/libfaketime.so.1')[0] // die 'no libfaketime (package faketime)';
    local $ENV{FAKETIME} = "-${days_ago}d";
    # doveadm runs itself again with a clean environment: keep these two
    # (and not the sanitizer's preload a sanitized sandbox imports).
    local $ENV{DOVECOT_PRESERVE_ENVS} = 'LD_PRELOAD FAKETIME';
    my ($rc, $out, $err) = $sb->command($msg, 'doveadm', '-c', $faked, 'save', '-u', $user, '-m', $folder);
    die "doveadm save: $err" if $rc;
}
sub subjects {
    my ($user, $folder) = @_;
    return join ' ', sort map { /^hdr\.subject: (.*)$/ ? $1 : () }
        split /\n/, doveadm('', 'fetch', '-u', $user, 'hdr.subject', 'mailbox', $folder, 'all');
}
sub until_ok { my ($what, $secs) = @_; my $end = time + $secs; sleep 0.2 until $what->() || time > $end; $what->() }

# 1. The Trash: what was put there 40 days ago goes at the end of a session, the rest stays.
doveadm('', 'mailbox', 'create', '-u', $jean, 'Trash', 'Sent', "\xc3\x89changes Patients", 'Notes');
save($jean, 'Trash', 'trash-40d', 40);
save($jean, 'Trash', 'trash-20d', 20);
save($jean, 'Trash', 'trash-now', 0);
is(subjects($jean, 'Trash'), 'trash-20d trash-40d trash-now', 'three messages in the Trash, saved 40, 20 and 0 days ago');
my $imap = $sb->imap($dc->{imap_port}, 'jean.dupont', $dev);
ok($imap->login_ok, 'IMAP login') or diag $imap->login_text;

# 2. Retention chosen by the user over IMAP METADATA, on three folders.
my $entry = '/private/vendor/mssante/retention-days';
my ($st, $t) = $imap->cmd(qq{SETMETADATA "Sent" ($entry "7")});
is($st, 'OK', 'SETMETADATA Sent: 7 days') or diag $t;
($st, $t) = $imap->cmd(qq{SETMETADATA "&AMk-changes Patients" ($entry "1")});
is($st, 'OK', 'SETMETADATA on the patient folder: 1 day') or diag $t;
($st, $t) = $imap->cmd(qq{SETMETADATA "Notes" ($entry "forever")});
($st, $t) = $imap->cmd(qq{GETMETADATA "Sent" ($entry)});
like($t, qr{\Q$entry\E (?:"7"|\{1\}\r?\n7)\)}, 'GETMETADATA reads it back') or diag $t;
my $date = sub { strftime('%d-%b-%Y %H:%M:%S +0000', gmtime(time - $_[0] * 86400)) };
my %put = (Sent => [[ 'sent-30d', 30 ], [ 'sent-3d', 3 ], [ 'sent-now', 0 ]],
           INBOX => [[ 'inbox-2000d', 2000 ]],
           '&AMk-changes Patients' => [[ 'patient-2d', 2 ], [ 'patient-now', 0 ]],
           Notes => [[ 'notes-900d', 900 ]]);
for my $f (sort keys %put) {
    for my $m (@{ $put{$f} }) {
        my $body = "From: <x\@b.mssante.test>\r\nSubject: $m->[0]\r\n\r\nCONFIDENTIEL $m->[0]\r\n";
        ($st, $t) = $imap->append($f, $date->($m->[1]), $body);
        $st eq 'OK' or diag "APPEND $f: $t";
    }
}
$imap->logout;
ok(until_ok(sub { subjects($jean, 'Trash') eq 'trash-20d trash-now' }, 15),
   'after the session: the Trash lost only what was put there more than 30 days ago (autoexpunge)')
    or diag subjects($jean, 'Trash');

my ($rc, $out, $err) = adm('expire');
is($rc, 0, 'expire: exit 0') or diag $err;
is($out, "$jean: 2 messages expunged from 2 folders\nexpire: 2 messages expunged from 3 BALs\n",
   'expire: a count per BAL, no folder name, no subject') or diag $err;
like($err, qr/\Q$jean\E: a folder's \Q$entry\E is "forever", not a number of days/, 'a bad value is named, not applied');
is(subjects($jean, 'Sent'), 'sent-3d sent-now', 'Sent (7 days): the 30-day-old message is gone, the others stay');
is(subjects($jean, "\xc3\x89changes Patients"), 'patient-now', 'the patient folder (1 day): only today\'s left');
is(subjects($jean, 'INBOX'), 'inbox-2000d', 'INBOX (no retention) keeps everything');
is(subjects($jean, 'Notes'), 'notes-900d', 'a folder with a bad value keeps everything');
is($psql->("SELECT request FROM audit_event WHERE action = 'expire'"), "$jean: 2 messages\n", 'expire audited');
($rc, $out) = adm('expire');
like($out, qr/^expire: 0 messages expunged from 3 BALs$/m, 'a second run: nothing more');

# 3. Export: the whole BAL as Maildir, one folder as mbox; each imported back into another BAL.
sub status { doveadm('', '-f', 'tab', 'mailbox', 'status', '-u', $_[0], '-t', 'messages vsize', $_[1]) =~ /^(\d+)\t(\d+)$/m ? "$1 messages, $2 bytes" : '?' }
my $whole = status($jean, '*');
(undef, $err) = adm_ok('export', $jean, "$dir/export-all");
like($err, qr/exported to \Q$dir\E\/export-all, maildir: (\d+) messages, (\d+) bytes/, 'export says what it wrote');
like($err, qr/\Q$whole\E/, "the count and size Dovecot has ($whole)");
doveadm('', 'import', '-u', $back, "maildir:$dir/export-all:UTF-8", '', 'all');
is(status($back, '*'), $whole, 'imported back into another BAL: the same count and bytes');
is(subjects($back, "\xc3\x89changes Patients"), 'patient-now', 'folder names survive (UTF-8)');

my $sent = status($jean, 'Sent');
adm_ok('export', $jean, "$dir/export-sent", '--folder', 'Sent', '--format', 'mbox');
is(join(' ', Sandbox::slurp("$dir/export-sent/Sent") =~ /^Subject: (sent-.*)$/mg), 'sent-3d sent-now',
   'the mbox of Sent holds its 2 messages');
doveadm('', 'import', '-u', $back, "mbox:$dir/export-sent:INBOX=$dir/export-sent/INBOX:UTF-8", 'from-mbox', 'mailbox', 'Sent');
is(status($back, 'from-mbox*'), $sent, "mbox imported back: the same count and bytes ($sent)");
is(join(' ', map { s{.*/}{}r } glob("$dir/export-sent/*")), 'Sent', 'a folder export holds that folder only');

($rc, undef, $err) = adm('export', $jean, "$dir/export-all");
is($rc, 1, 'an export into an existing directory: refused');
like($err, qr/File exists \(an export goes into a new directory/, 'and says why');
is($psql->("SELECT count(*) FROM audit_event WHERE action = 'export' AND request LIKE '$jean: %'"), "2\n",
   'each export audited');

# 4. Inactive BALs: Anne's has not been opened for 400 days.
$psql->("UPDATE bal SET created_at = now() - interval '500 days'; UPDATE bal SET last_login_at = now() - interval '400 days' WHERE address = '$anne'");
save($anne, 'INBOX', 'anne-mail', 0);
($out) = adm_ok(qw(inactive --json));
my $list = eval { JSON::PP->new->decode($out) } || [];
is(join(' ', map { $_->{address} } @$list), "$anne $back",
   'inactive: the BALs nobody opened for 365 days (one never opened), not the one Jean opens');
($rc, undef, $err) = adm(qw(inactive --delete));
is($rc, 1, '--delete without --notified-before: refused');
adm_ok(qw(inactive --notify --days 365));
my @notes = map { Sandbox::slurp($_) } glob "$dir/notice.*";
is(scalar @notes, 2, 'two holders told');
my ($to_anne) = grep { /^ARGS .* -- anne\@perso\.test$/m } @notes;
ok($to_anne && $to_anne =~ /^From: notices\@a\.mssante\.test$/m && $to_anne =~ /supprim\xc3\xa9e dans 30 jours/,
   'Anne told at her contact address, from the exempt sender, the delay stated') or diag @notes;
unlike($to_anne // '', qr/anne-mail|CONFIDENTIEL/, 'the notice holds nothing of her mail');
adm_ok(qw(inactive --notify));
is(scalar(() = glob "$dir/notice.*"), 2, 'a second --notify tells nobody twice');
adm_ok(qw(inactive --delete --notified-before 30d));
is($psql->("SELECT count(*) FROM bal WHERE address IN ('$anne', '$back')"), "2\n", 'told today: nothing deleted yet');

$psql->("UPDATE bal SET inactive_notified_at = now() - interval '31 days' WHERE address = '$anne'");
# Told 400 days ago, opened 370 days ago: still unopened for a year, but the notice is void.
$psql->("UPDATE bal SET inactive_notified_at = now() - interval '400 days', last_login_at = now() - interval '370 days' WHERE address = '$back'");
my $anne_status = status($anne, '*');
(undef, $err) = adm_ok('inactive', '--delete', '--notified-before', '30d', '--export', "$dir/leavers");
like($err, qr/\Q$anne\E: deleted \(exported first\)/, 'Anne\'s BAL: exported, then deleted');
is($psql->("SELECT address FROM bal WHERE address IN ('$anne', '$back')"), "$back\n",
   'a BAL opened since its notice stays (it has to be told again)');
doveadm('', 'import', '-u', $jean, "maildir:$dir/leavers/$anne:UTF-8", 'anne', 'all');
is(status($jean, 'anne*'), $anne_status, "her export holds her mail ($anne_status)");
is($psql->("SELECT string_agg(action, ' ' ORDER BY id) FROM audit_event WHERE request LIKE '$anne%' AND action <> 'bal-add'"),
   "inactive-notify export inactive-delete\n", 'told, exported, deleted: each audited');
done_testing;
