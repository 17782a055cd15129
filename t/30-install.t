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
