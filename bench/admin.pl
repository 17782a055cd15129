#!/usr/bin/perl
# admin - mssante-admin import of a request form of 10,000 rows (new
# accounts, each with a PER BAL; no passwords generated), dry run and
# --apply, against the floor: psql \copy of the same file into a table of
# the same columns, measured in the same run.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../t/lib";
use Time::HiRes qw(time);
use Sandbox;

my $N = $ENV{BENCH_IMPORT_ROWS} || 10000;
my $sb = Sandbox->new;
my $dir = $sb->dir;
my ($pg, $conf) = $sb->migrated;
Sandbox::write_file($conf, Sandbox::slurp($conf) . "our_domains = a.mssante.test\n");
my @cols = qw(login civilite nom prenom email_contact telephone bal type rpps_adeli service);
Sandbox::write_file("$dir/form.csv", join '', map { "$_\n" } join(';', @cols), map {
    join ';', "medecin.$_", 'Dr', "NOM$_", "Prénom$_", "m$_\@perso.test", '05 56 00 00 00',
        "medecin.$_\@a.mssante.test", 'PER', sprintf('1%010d', $_), 'Médecine générale' } 1 .. $N);

sub timed {
    my (@cmd) = @_;
    my $t = time;
    my $out = qx{@{[ join ' ', map { Sandbox::shell_quote($_) } @cmd ]} 2>&1};
    die "@cmd: exit " . ($? >> 8) . "\n$out" if $?;
    return time - $t;
}
my $admin = $sb->bin('mssante-admin');
my $dry = timed($admin, '-c', $conf, 'import', "$dir/form.csv");
my $apply = timed($admin, '-c', $conf, 'import', "$dir/form.csv", '--apply');
$pg->{psql}->("SELECT count(*) FROM account") =~ /^$N$/m or die "import: not $N accounts\n";
$pg->{psql}->('CREATE TABLE floor (' . join(', ', map { "$_ text" } @cols) . ')');
my $floor = timed('psql', '-X', '-q', '-d', $pg->{conninfo}, '-c',
                  "\\copy floor FROM '$dir/form.csv' WITH (FORMAT csv, DELIMITER ';', HEADER)");
printf "import of %d form rows, dry run (checks against the database)\t%.2f s\t-\t%.2f s\t< 10 s\n", $N, $dry, $floor;
printf "import of %d form rows, --apply (one transaction, audit rows)\t%.2f s\t-\t%.2f s\t< 10 s\n", $N, $apply, $floor;
