#!/usr/bin/perl
# The binaries carry the hardening the build promises (SECURITY.md):
# position-independent executables, RELRO with immediate binding, the
# stack protector, and FORTIFY_SOURCE checked calls where the compiler
# could use them.
use strict;
use warnings;
use Test::More;

my $build = $ENV{MSSANTE_BUILD} or BAIL_OUT('MSSANTE_BUILD is not set');
my @progs = glob "$build/bin/*";
my @plugins = (glob("$build/dovecot/*.so"), glob("$build/dovecot/auth/*.so"));
ok(@progs >= 8, 'the programs are built (' . scalar(@progs) . ')');
ok(@plugins >= 2, 'the Dovecot plugins are built (' . scalar(@plugins) . ')');
my $fortified = 0;
for my $f (@progs, @plugins) {
    my $name = $f =~ s{.*/}{}r;
    my $h = qx{readelf -h -l -d -W $f 2>&1};
    like($h, qr/Type:\s+DYN/, "$name: position-independent");
    like($h, qr/GNU_RELRO/, "$name: RELRO segment");
    like($h, qr/\(FLAGS\).*\bBIND_NOW\b|\(FLAGS_1\).*\bNOW\b/, "$name: immediate binding (full RELRO)");
    my $syms = qx{readelf --dyn-syms -W $f 2>&1};
    like($syms, qr/__stack_chk_fail/, "$name: stack protector");
    $fortified++ if $syms =~ /__\w+_chk\b(?<!__stack_chk)/;
}
cmp_ok($fortified, '>=', @progs / 2, "FORTIFY_SOURCE checked calls in most binaries ($fortified)");
done_testing;
