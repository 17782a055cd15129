#!/usr/bin/perl
# make install DESTDIR=<empty dir> puts programs, schema and configuration
# snippets under that root, and an installed mssante-db finds its schema.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use File::Temp qw(tempdir);
use Test::More;
use Sandbox;

my $top = "$FindBin::Bin/..";
my $tmp = tempdir("mssante-install-XXXXXX", TMPDIR => 1, CLEANUP => 1);
my $root = "$tmp/root";
my @san = ($ENV{MSSANTE_BUILD} // '') =~ /build-san$/ ? ('SANITIZE=1') : ();
# A build directory of its own: the programs compile PREFIX in.
my @mk = ("make", "-C", $top, "--no-print-directory", "B=$tmp/build", "DESTDIR=$root", "PREFIX=/usr", @san);
my $out = qx{@mk install 2>&1};
is($?, 0, 'make install succeeds') or diag $out;

ok(-x "$root/usr/sbin/mssante-db", 'mssante-db installed in sbin');
ok(-f "$root/usr/share/mssante/schema/001_base.sql", 'schema migrations installed');
ok(-f "$root/usr/share/mssante/conf/mssante.conf", 'configuration snippets installed');
ok(-f "$root/etc/mssante/mssante.conf", 'a default mssante.conf installed');
is((stat "$root/etc/mssante/mssante.conf")[2] & 07777, 0640, 'mssante.conf is not world-readable');

# Man pages for every command, daemon, plugin and the configuration file, and man renders them.
my @man = map { glob "$root/usr/share/man/$_" } qw(man1/*.1 man5/*.5 man7/*.7 man8/*.8);
my %have = map { m{([^/]+)$}; ($1 => 1) } @man;
for my $p (qw(milter-whitelist.8 liste-blanche.8 milter-smime.8 mssante-smime.8 annuaire-sync.8
              annuaire-search.1 mssante-db.8 mssante-otp.8 mssante-patient-folder.7 mssante-auth-otp.7
              mssante-sasl-proxy.8 mssante-admin.8 mssante-portal.8
              mssante.conf.5)) {
    ok($have{$p}, "man page $p installed");
}
for my $f (@man) {
    my $name = $f =~ s{.*/}{}r;
    my $text = qx{LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l $f 2>$tmp/man.err};
    my $warn = Sandbox::slurp("$tmp/man.err");
    ok($? == 0 && $text =~ /^NAME\n\s+\S+\s+-\s+\S/m && $warn eq '', "man -l $name renders, without warnings") or diag $warn;
}
like(qx{LC_ALL=C.UTF-8 MANWIDTH=200 man -l $root/usr/share/man/man5/mssante.conf.5 2>&1},
     qr/^\s+smime_spool_directory = \/var\/tmp\n\s+where those temporary files live/m,
     'mssante.conf(5) lists the keys with their defaults and help');

# The installed program looks for its schema where it was installed.
my $n = qx{$root/usr/sbin/mssante-db -c $root/etc/mssante/mssante.conf -n 2>&1};
like($n, qr{^schema_directory = /usr/share/mssante/schema$}m,
     'installed mssante-db defaults to the installed schema directory');

# Installing again does not overwrite the sysadmin's configuration.
Sandbox::write_file("$root/etc/mssante/mssante.conf", "debug_level = 1\n");
$out = qx{@mk install 2>&1};
is(Sandbox::slurp("$root/etc/mssante/mssante.conf"), "debug_level = 1\n",
   'a second install keeps the existing mssante.conf');
done_testing;
