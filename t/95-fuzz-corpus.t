#!/usr/bin/perl
# Every fuzz target, built like the programs (with the sanitizers under
# SANITIZE=1), replays its seed corpus and every input that once failed:
# no crash, no sanitizer report, every property holding.
use strict;
use warnings;
use Test::More;

my $build = $ENV{MSSANTE_BUILD} or BAIL_OUT('MSSANTE_BUILD is not set');
my @targets = qw(lb dn addr extraction fhir mime config);
for my $t (@targets) {
    my $dir = "t/fuzz/corpus/$t";
    opendir(my $dh, $dir) or BAIL_OUT("$dir: $!");
    my $n = grep { !/^\./ && -f "$dir/$_" } readdir $dh;
    my $out = qx{$build/t/fuzz-$t $dir 2>&1};
    my $rc = $?;
    is($rc, 0, "$t: every input of $dir runs") or diag $out;
    like($out, qr/^$n inputs$/m, "$t: all $n inputs replayed");
}
done_testing;
