#!/usr/bin/perl
# mssante-db against a real PostgreSQL: migrations apply once, a second run
# changes nothing, a failing migration leaves the database as it was, a
# database newer than the package is refused; configuration errors name
# file, line and key.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Sandbox;

my $sb = Sandbox->new;
my $pg = $sb->postgres;
my $db = $sb->bin('mssante-db');
my $schema = $sb->top . '/schema';
ok(-x $db, 'mssante-db is built') or BAIL_OUT("build first: $db");

# run_db - run mssante-db, return (exit status, stdout+stderr)
sub run_db {
    my $cmd = join ' ', map { Sandbox::shell_quote($_) } $db, @_;
    my $out = qx{$cmd 2>&1};
    return ($? >> 8, $out);
}

sub dump_schema {
    my $d = Sandbox::run("$pg->{bindir}/pg_dump", "--schema-only", "--no-owner", "-d", $pg->{conninfo});
    $d =~ s/^\\(un)?restrict .*$//mg;    # a random token per dump
    return $d;
}

# --- configuration file errors, before any database work
my $conf = Sandbox::write_file($sb->dir . '/bad.conf', "# test\ndatabase = x\ndatabse = y\n");
my ($rc, $out) = run_db('-c', $conf, 'migrate');
is($rc, 1, 'unknown key: exit 1');
like($out, qr{bad\.conf:3: unknown key "databse"}, 'unknown key: file, line and key named');
Sandbox::write_file($conf, "db_connect_timeout = soon\n");
($rc, $out) = run_db('-c', $conf, 'migrate');
like($out, qr{bad\.conf:1: key "db_connect_timeout": bad time}, 'bad value: file, line and key named');
($rc, $out) = run_db('-c', $sb->dir . '/missing.conf', 'migrate');
ok($rc == 1 && $out =~ m{missing\.conf: cannot open: No such file}, 'missing file: named, exit 1');

# --- -n prints the effective settings, hiding the password
my $good = Sandbox::write_file($sb->dir . '/mssante.conf',
    "database = $pg->{conninfo} password=not-shown\nschema_directory = $schema\n");
($rc, $out) = run_db('-c', $good, '-n');
is($rc, 0, '-n on a valid file: exit 0');
like($out, qr/^schema_directory = \Q$schema\E$/m, '-n prints the effective settings');
like($out, qr/password=\*\*\*\*\*/, '-n hides the database password');
unlike($out, qr/not-shown/, 'the password is not printed');

# --- migrate, twice
Sandbox::write_file($good, "database = $pg->{conninfo}\nschema_directory = $schema\n");
($rc, $out) = run_db('-c', $good, 'status');
is($rc, 1, 'status on an empty database: pending migrations, exit 1');
like($out, qr/^pending\s+001_base$/m, 'status lists 001_base as pending');

($rc, $out) = run_db('-c', $good, 'migrate');
is($rc, 0, 'first migrate succeeds') or diag $out;
like($out, qr/^applied 001_base$/m, 'first migrate applies 001_base');
my @files = map { m{/(\d{3}_\w+)\.sql$} } sort glob "$schema/*.sql";
is($pg->{psql}->("SELECT string_agg(name, ' ' ORDER BY version) FROM mssante_schema"), "@files\n",
   'every migration recorded, in order');
$pg->{psql}->("INSERT INTO audit_event (actor, bal, action, service, remote_ip, result) "
            . "VALUES ('jean.dupont', 'jean.dupont\@a.mssante.test', 'login', 'imap', '127.0.0.9', 'ok')");
is($pg->{psql}->("SELECT actor || ' ' || action || ' ' || host(remote_ip) || ' ' || result FROM audit_event"),
   "jean.dupont login 127.0.0.9 ok\n", 'audit_event takes a trace row');
$pg->{psql}->("INSERT INTO audit_event (at, actor, action, result) VALUES (now() - interval '7 months', 'old', 'login', 'ok')");
is($pg->{psql}->("SELECT audit_purge()"), "1\n", 'audit_purge removes rows older than six months');
is($pg->{psql}->("SELECT count(*) FROM audit_event"), "1\n", 'and keeps the recent one');

my $before = dump_schema();
my $rows = $pg->{psql}->("SELECT version, checksum, applied_at FROM mssante_schema");
($rc, $out) = run_db('--db', $pg->{conninfo}, '--schema-dir', $schema, 'migrate');
is($rc, 0, 'second migrate (with --db) succeeds');
my ($last) = $files[-1] =~ /^(\d{3})/;
like($out, qr/schema is up to date \(version $last\)/, 'second migrate says there is nothing to do');
is(dump_schema(), $before, 'second migrate changes no schema object');
is($pg->{psql}->("SELECT version, checksum, applied_at FROM mssante_schema"), $rows,
   'second migrate changes no bookkeeping row');
($rc, $out) = run_db('-c', $good, 'status');
ok($rc == 0 && $out =~ /^applied\s+001_base$/m, 'status: all applied, exit 0');

# --- a failing migration leaves the database at its previous version
my $dir2 = $sb->dir . '/schema2';
mkdir $dir2;
Sandbox::write_file("$dir2/$_.sql", Sandbox::slurp("$schema/$_.sql")) for @files;
my $broken = sprintf '%03d_broken', $last + 1;
Sandbox::write_file("$dir2/$broken.sql",
    "CREATE TABLE half_done (id int);\n\nINSERT INTO no_such_table VALUES (1);\n");
$before = dump_schema();
($rc, $out) = run_db('-c', $good, '--schema-dir', $dir2, 'migrate');
is($rc, 1, 'a failing migration exits 1');
like($out, qr/$broken\.sql:3: relation "no_such_table" does not exist/,
     'the error names the file and line of the failing statement');
is(dump_schema(), $before, 'nothing of the failed migration remains');

# --- a database newer than the package is refused
$pg->{psql}->("INSERT INTO mssante_schema (version, name, checksum) VALUES (999, '999_future', 'x')");
($rc, $out) = run_db('-c', $good, 'migrate');
is($rc, 1, 'newer database: exit 1');
like($out, qr/schema version 999 \(999_future\), unknown to this package/, 'newer database: refused with the reason');

# --- PostgreSQL unreachable
($rc, $out) = run_db('--db', "host=$pg->{socket_dir} port=1 dbname=x", '--schema-dir', $schema, 'migrate');
ok($rc == 1 && $out =~ /cannot connect to PostgreSQL/, 'unreachable database: clear error, exit 1');

done_testing;
