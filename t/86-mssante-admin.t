#!/usr/bin/perl
# mssante-admin account: accounts made, changed and removed without SQL,
# their passwords hashed so that the real Dovecot (mssante_otp passdb)
# verifies them, never taken from the command line; refusals change nothing;
# every change is an audit row; listings as tables or JSON.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use JSON::PP;
use Test::More;
use Sandbox;

my $sb = Sandbox->new;
my $dir = $sb->dir;
my ($pg, $conf) = $sb->migrated;
sub q1 { my $r = $pg->{psql}->($_[0]); chomp $r; $r }
my $admin = $sb->bin('mssante-admin');

# adm - mssante-admin with a standard input; (exit status, stdout, stderr)
sub adm { my ($stdin, @args) = @_; $sb->command($stdin, $admin, '-c', $conf, @args) }
my $dc = $sb->dovecot(auth_modules => [$sb->build . '/dovecot/auth/libauthdb_mssante_otp.so'],
                      passdb => "  driver = mssante_otp\n  args = $conf");
# verified - what Dovecot says of a password: 'right' (the account asks for a
# second factor, which only the right password earns), or 'refused'
sub verified {
    my ($login, $pw) = @_;
    my $imap = $sb->imap($dc->{imap_port}, $login, $pw);
    my $t = $imap->login_text;
    $imap->logout;
    return $t =~ /second factor is required/ ? 'right' : 'refused';
}

my ($rc, $out, $err) = adm("Mot-de-passe-assez-long\n", 'account', 'add', 'jean.dupont', '--contact', 'jean@perso.test');
is($rc, 0, 'account add, the password on the standard input') or diag $err;
like(q1("SELECT password FROM account WHERE login = 'jean.dupont'"), qr/^\{SHA512-CRYPT\}\$6\$/, 'stored hashed');
is(q1("SELECT count(*) FROM account WHERE password LIKE '%assez-long%'"), 0, 'never in clear');
q1("INSERT INTO bal (address) VALUES ('jean.dupont\@a.mssante.test')");
q1("INSERT INTO bal_access SELECT id, 'jean.dupont\@a.mssante.test', 'owner' FROM account WHERE login = 'jean.dupont'");
is(verified('jean.dupont', 'Mot-de-passe-assez-long'), 'right', 'Dovecot verifies it');
is(verified('jean.dupont', 'Mot-de-passe-faux-long'), 'refused', 'and refuses another');

($rc, undef, $err) = adm("Autre-mot-de-passe\n", 'account', 'add', 'jean.dupont');
ok($rc == 1 && $err =~ /this login exists already/, 'the same login twice: refused, exit 1') or diag $err;
is(verified('jean.dupont', 'Mot-de-passe-assez-long'), 'right', 'and the first password stands');
($rc, undef, $err) = adm("Mot-de-passe-assez-long\n", 'account', 'add', 'Jean Dupont');
ok($rc == 1 && $err =~ /is not a login/, 'a login with capitals and a space: refused');
($rc, undef, $err) = adm("court\n", 'account', 'add', 'paul.court');
ok($rc == 1 && $err =~ /12 characters at least/, 'a short password: refused');
($rc, undef, $err) = adm("Mot-de-passe-assez-long\n", 'account', 'add', 'paul.court', '--contact', 'pas une adresse');
ok($rc == 1 && $err =~ /is not an e-mail address/, 'a contact that is no address: refused');
($rc, undef, $err) = adm('', 'account', 'add', 'paul.court');
ok($rc == 1 && $err =~ /no password on the standard input/, 'no password at all: refused');
is(q1("SELECT count(*) FROM account WHERE login = 'paul.court'"), 0, 'none of the refusals left an account');

($rc, $out, $err) = adm('', 'account', 'add', 'marie.curie', '--generate');
my ($gen) = $out =~ /^([a-z2-9]{5}(?:-[a-z2-9]{5}){3})$/m;
ok($rc == 0 && $gen, '--generate prints a password once') or diag $out, $err;
q1("INSERT INTO bal (address) VALUES ('marie.curie\@a.mssante.test')");
q1("INSERT INTO bal_access SELECT id, 'marie.curie\@a.mssante.test', 'owner' FROM account WHERE login = 'marie.curie'");
is(verified('marie.curie', $gen), 'right', 'the generated password is the one stored');

($rc, $out) = adm('', 'account', 'show', 'jean.dupont', '--json');
my $j = eval { decode_json($out) } || {};
is_deeply([@$j{qw(login state contact_email bals devices)}],
          ['jean.dupont', 'active', 'jean@perso.test', 'jean.dupont@a.mssante.test', 0], 'account show --json');
($rc, $out) = adm('', 'account', 'list', '--json');
my $l = eval { decode_json($out) } || [];
is(join(',', map { $_->{login} } @$l), 'jean.dupont,marie.curie', 'account list --json');
($rc, $out) = adm('', 'account', 'list');
like($out, qr/^marie\.curie\s+active\s+none\s+0\s+marie\.curie\@a\.mssante\.test$/m, 'account list as a table');

($rc, $out) = adm('', 'account', 'passwd', 'jean.dupont', '--generate');
my ($new) = $out =~ /^(\S+)$/m;
is($rc, 0, 'account passwd --generate');
is(verified('jean.dupont', $new) . ' ' . verified('jean.dupont', 'Mot-de-passe-assez-long'), 'right refused',
   'the new password works, the old one no longer');

($rc) = adm('', 'account', 'disable', 'jean.dupont');
is($rc . ' ' . verified('jean.dupont', $new), '0 refused', 'a disabled account is refused, even with its password');
($rc) = adm('', 'account', 'enable', 'jean.dupont');
is($rc . ' ' . verified('jean.dupont', $new), '0 right', 'enabled again');

($rc, undef, $err) = adm('', 'account', 'delete', 'jean.dupont');
ok($rc == 1 && $err =~ /owns jean\.dupont\@a\.mssante\.test .*: give each BAL another owner \(owner add\) or delete it first/,
   'deleting the only owner of a BAL: refused, the BAL named');
is(q1("SELECT count(*) FROM account WHERE login = 'jean.dupont'"), 1, 'the account is still there');
q1("DELETE FROM bal WHERE address = 'jean.dupont\@a.mssante.test'");
($rc) = adm('', 'account', 'delete', 'jean.dupont');
is($rc . ' ' . q1("SELECT count(*) FROM account WHERE login = 'jean.dupont'"), '0 0', 'once it owns nothing, deleted');
($rc, undef, $err) = adm('', 'account', 'delete', 'jean.dupont');
ok($rc == 1 && $err =~ /no such login/, 'deleting it again: no such login');

is(q1("SELECT string_agg(action, ',' ORDER BY id) FROM audit_event WHERE actor = 'mssante-admin'"),
   'account-add,account-add,account-passwd,account-disable,account-enable,account-delete',
   'every change, and only the changes, in the audit trail');
is(q1("SELECT count(*) FROM audit_event WHERE request LIKE '%assez-long%' OR detail LIKE '%assez-long%'"), 0,
   'no password in the audit trail');
($rc) = adm('', 'account', 'frobnicate', 'x');
is($rc, 2, 'an unknown verb: usage, exit 2');
($rc) = adm('', 'account', 'show');
is($rc, 2, 'a missing argument: usage, exit 2');
done_testing;
