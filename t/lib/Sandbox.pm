# Sandbox - real PostgreSQL, slapd, Postfix and Dovecot in a temporary
# directory on loopback, with a throw-away PKI shaped like IGC-Santé.
#
# Every server started here is stopped when the sandbox object goes away,
# when the test dies, or on SIGINT/SIGTERM. A server that does not start
# makes the caller die with the server's own log, never a skip.
#
#   my $sb = Sandbox->new;
#   my $pg = $sb->postgres;                      # {conninfo, psql => sub}
#   my $ld = $sb->slapd(ldif => $text);          # {uri, base, binddn, bindpw}
#   my $dc = $sb->dovecot(users => {...});       # {imap_port, lmtp_port, ...}
#   my $pf = $sb->postfix(name => 'a', addr => '127.0.0.2', ...);
#   my $ca = $sb->pki;  my $c = $sb->issue(...);
package Sandbox;

use strict;
use warnings;
use Carp qw(croak);
use Cwd qw(abs_path);
use File::Basename qw(basename dirname);
use File::Copy qw(copy);
use File::Path qw(make_path remove_tree);
use File::Temp qw(tempdir);
use IO::Select;
use IO::Socket::INET;
use POSIX qw(:sys_wait_h);
use Time::HiRes qw(sleep time);

our @LIVE;    # sandboxes with servers still running, for the signal handlers

sub new {
    my ($class, %opt) = @_;
    croak "the sandbox starts real servers and must run as root (uid $>)" if $> != 0;
    my $dir = tempdir('mssante-sb-XXXXXX', TMPDIR => 1, CLEANUP => 0);
    chmod 0755, $dir or croak "chmod $dir: $!";
    my $top = abs_path(dirname(__FILE__) . '/../..');
    my $self = bless {
        dir   => $dir,
        top   => $top,
        build => $ENV{MSSANTE_BUILD} || "$top/build",
        stops => [],
        keep  => $ENV{MSSANTE_KEEP} ? 1 : 0,
        pid   => $$,
        %opt,
    }, $class;
    push @LIVE, $self;
    return $self;
}

sub dir   { $_[0]{dir} }
sub top   { $_[0]{top} }
sub build { $_[0]{build} }

# bin - path of one of our built programs
sub bin {
    my ($self, $name) = @_;
    return "$self->{build}/bin/$name";
}

# ---------------------------------------------------------------- helpers

# write_file - create a file (and its directory) with the given content
sub write_file {
    my ($path, $content, $mode) = @_;
    make_path(dirname($path));
    open my $fh, '>', $path or croak "write $path: $!";
    print $fh $content;
    close $fh or croak "close $path: $!";
    chmod $mode, $path if defined $mode;
    return $path;
}

sub slurp {
    my ($path) = @_;
    open my $fh, '<', $path or return '';
    local $/;
    return scalar <$fh>;
}

# tail - the last lines of a log, for failure messages
sub tail {
    my ($path, $n) = @_;
    my @l = split /\n/, slurp($path);
    $n ||= 40;
    @l = @l[-$n .. -1] if @l > $n;
    return join("\n", map { "    | $_" } @l) . "\n";
}

# run - run a command, return its output; die with the output on failure
sub run {
    my (@cmd) = @_;
    my $out = qx{@{[ join ' ', map { shell_quote($_) } @cmd ]} 2>&1};
    croak "command failed (exit " . ($? >> 8) . "): @cmd\n$out" if $? != 0;
    return $out;
}

# command - a command with a given standard input: (exit status, stdout, stderr)
sub command {
    my ($self, $stdin, @cmd) = @_;
    my $f = "$self->{dir}/command." . ++$self->{commands};
    write_file("$f.in", $stdin // '');
    my $out = qx{@{[ join ' ', map { shell_quote($_) } @cmd ]} <$f.in 2>$f.err};
    return ($? >> 8, $out, slurp("$f.err"));
}

sub shell_quote {
    my ($s) = @_;
    return $s if $s =~ m{^[A-Za-z0-9_./:=@,+-]+$};
    $s =~ s/'/'\\''/g;
    return "'$s'";
}

# free_port - a TCP port nobody listens on at this address right now
sub free_port {
    my ($addr) = @_;
    my $s = IO::Socket::INET->new(LocalAddr => $addr || '127.0.0.1', LocalPort => 0,
                                  Proto => 'tcp', Listen => 1, ReuseAddr => 1)
        or croak "cannot find a free port on $addr: $!";
    my $port = $s->sockport;
    close $s;
    return $port;
}

# wait_port - wait until something accepts connections; false on time-out
sub wait_port {
    my ($addr, $port, $timeout) = @_;
    my $end = time + ($timeout || 15);
    while (time < $end) {
        my $s = IO::Socket::INET->new(PeerAddr => $addr, PeerPort => $port, Proto => 'tcp',
                                      Timeout => 1);
        if ($s) { close $s; return 1 }
        sleep 0.05;
    }
    return 0;
}

# wait_gone - wait until a process has exited
sub wait_gone {
    my ($pid, $timeout) = @_;
    my $end = time + ($timeout || 15);
    while (time < $end) {
        return 1 if waitpid($pid, WNOHANG) == $pid || !kill(0, $pid);
        # A daemon re-parented to an init that does not reap stays a zombie.
        my ($state) = slurp("/proc/$pid/stat") =~ /^\d+ \(.*\) (\S)/s;
        return 1 if defined $state && $state eq 'Z';
        sleep 0.05;
    }
    return 0;
}

# on_stop - register a clean-up, run in reverse order by stop()
sub on_stop {
    my ($self, $what, $code) = @_;
    push @{ $self->{stops} }, [$what, $code];
}

# stop - stop every server of this sandbox and remove its directory
sub stop {
    my ($self) = @_;
    return if $self->{stopped} || $self->{pid} != $$;
    $self->{stopped} = 1;
    # Called from END too, where $? is the script's exit status: the
    # waitpid and system calls below must not change it.
    local $?;
    while (my $s = pop @{ $self->{stops} }) {
        my $t = time;
        eval { $s->[1]->(); 1 } or warn "# stopping $s->[0]: $@";
        printf STDERR "# stopped %s in %.2fs\n", $s->[0], time - $t if $ENV{MSSANTE_TIMING};
    }
    if ($self->{keep}) {
        print STDERR "# sandbox kept in $self->{dir}\n";
    } else {
        remove_tree($self->{dir});
    }
    @LIVE = grep { $_ != $self } @LIVE;
}

sub DESTROY { $_[0]->stop }
END { $_->stop for @LIVE }
for my $sig (qw(INT TERM HUP)) {
    $SIG{$sig} = sub { $_->stop for @LIVE; exit 1 };
}
# A write to a connection the server closed is an error to report (and the
# servers are still stopped), not a silent death that leaves them running.
$SIG{PIPE} = sub { die "SIGPIPE: the other end closed the connection\n" };

# ---------------------------------------------------------------- PKI

# openssl - run the openssl command in the PKI directory
sub openssl {
    my ($self, @args) = @_;
    return run('openssl', @args);
}

# pki - the test IGC-Santé: a root, and one issuing CA for organisations
# (servers, organisational S/MIME) and one for persons (personal S/MIME).
sub pki {
    my ($self) = @_;
    return $self->{pki} if $self->{pki};
    my $d = "$self->{dir}/pki";
    make_path($d);
    my $ca_ext = write_file("$d/ca.ext",
        "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n"
      . "subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid:always\n");
    $self->openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-sha256', '-days', '3650',
        '-keyout', "$d/root.key", '-out', "$d/root.pem",
        '-subj', '/C=FR/O=ASIP-SANTE/OU=IGC-SANTE TEST/CN=TEST AC IGC-SANTE ELEMENTAIRE RACINE',
        '-addext', 'basicConstraints=critical,CA:TRUE',
        '-addext', 'keyUsage=critical,keyCertSign,cRLSign');
    my %ca = (root => { cert => "$d/root.pem", key => "$d/root.key" });
    for my $kind (qw(organisations personnes)) {
        my $cn = 'TEST AC IGC-SANTE ELEMENTAIRE ' . uc $kind;
        $self->openssl('req', '-new', '-newkey', 'rsa:2048', '-nodes', '-sha256',
            '-keyout', "$d/$kind.key", '-out', "$d/$kind.csr",
            '-subj', "/C=FR/O=ASIP-SANTE/OU=IGC-SANTE TEST/CN=$cn");
        $self->openssl('x509', '-req', '-in', "$d/$kind.csr", '-sha256', '-days', '3650',
            '-CA', "$d/root.pem", '-CAkey', "$d/root.key", '-set_serial', int(rand(1e9)),
            '-extfile', $ca_ext, '-out', "$d/$kind.pem");
        $ca{$kind} = { cert => "$d/$kind.pem", key => "$d/$kind.key", cn => $cn };
    }
    # The bundle an operator configures: the IGC-Santé CAs, nothing else.
    write_file("$d/igc-sante-bundle.pem",
        join '', map { slurp($ca{$_}{cert}) } qw(root organisations personnes));
    $ca{bundle} = "$d/igc-sante-bundle.pem";
    $ca{dir} = $d;
    return $self->{pki} = \%ca;
}

# issue - a key and certificate from the test PKI.
#   kind => 'server' (TLS server and client) or 'smime'
#   cn, ou, o, st (or l), email, ca => 'organisations' | 'personnes', name,
#   days, expired => 1 (valid 30 days, three years ago)
# The subject is shaped like the real ones: CN=..,OU=..,O=..,ST=..,C=FR.
sub issue {
    my ($self, %o) = @_;
    my $pki = $self->pki;
    my $d = $pki->{dir};
    my $name = $o{name} || $o{cn} || $o{email} or croak "issue: name, cn or email";
    (my $file = $name) =~ s/[^A-Za-z0-9.@-]/_/g;
    my $ca = $pki->{ $o{ca} || 'organisations' };
    my @rdn = ('C=FR');
    push @rdn, "ST=$o{st}" if $o{st};
    push @rdn, "L=$o{l}"   if $o{l};
    push @rdn, "O=$o{o}"   if $o{o};
    push @rdn, "OU=$o{ou}" if $o{ou};
    push @rdn, "CN=$o{cn}" if $o{cn};
    my $subj = '/' . join('/', map { (my $x = $_) =~ s{/}{\\/}g; $x } @rdn);
    my $ext;
    if ($o{ku}) {                                   # tests of refusals
        $ext = "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,$o{ku}\n";
    } elsif (($o{kind} || 'server') eq 'server') {
        $ext = "basicConstraints=critical,CA:FALSE\n"
             . "keyUsage=critical,digitalSignature,keyEncipherment\n"
             . "extendedKeyUsage=serverAuth,clientAuth\n"
             . "subjectAltName=DNS:$o{cn}" . ($o{ip} ? ",IP:$o{ip}" : '') . "\n";
    } else {
        $ext = "basicConstraints=critical,CA:FALSE\n"
             . "keyUsage=critical,digitalSignature,nonRepudiation,keyEncipherment\n"
             . "extendedKeyUsage=emailProtection\n"
             . "subjectAltName=email:$o{email}\n";
    }
    $ext .= "subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n";
    write_file("$d/$file.ext", $ext);
    $self->openssl('req', '-new', '-newkey', 'rsa:2048', '-nodes', '-sha256', '-utf8',
        '-keyout', "$d/$file.key", '-out', "$d/$file.csr", '-subj', $subj);
    # expired => 1: issued three years ago for 30 days (faketime).
    run($o{expired} ? ('faketime', '3 years ago') : (), 'openssl',
        'x509', '-req', '-in', "$d/$file.csr", '-sha256', '-days', $o{expired} ? 30 : $o{days} || 825,
        '-CA', $ca->{cert}, '-CAkey', $ca->{key}, '-set_serial', int(rand(1e9)),
        '-extfile', "$d/$file.ext", '-out', "$d/$file.pem");
    chmod 0644, "$d/$file.key";    # read by postfix/dovecot users in the sandbox
    write_file("$d/$file.chain.pem", slurp("$d/$file.pem") . slurp($ca->{cert}));
    return {
        cert  => "$d/$file.pem",
        key   => "$d/$file.key",
        chain => "$d/$file.chain.pem",
        dn    => join(',', reverse @rdn),
        issuer_cn => $ca->{cn},
    };
}

# crl - a CRL of one of the test PKI's issuing CAs ('organisations' or
# 'personnes') revoking the given certificates (PEM files); returns its path
sub crl {
    my ($self, $kind, @certs) = @_;
    my $ca = $self->pki->{$kind} or croak "crl: no CA $kind";
    my $d = "$self->{dir}/crl-$kind";
    make_path($d);
    my $index = '';
    for my $c (@certs) {
        my $serial = run('openssl', 'x509', '-in', $c, '-noout', '-serial') =~ s/.*=|\s//gr;
        my $subject = run('openssl', 'x509', '-in', $c, '-noout', '-subject', '-nameopt', 'compat')
            =~ s/^subject=\s*|\s+$//gr;
        $index .= "R\t301231000000Z\t251101000000Z\t$serial\tunknown\t$subject\n";
    }
    write_file("$d/index.txt", $index);
    write_file("$d/crlnumber", "01\n");
    write_file("$d/ca.cnf", "[ca]\ndefault_ca = d\n[d]\ndatabase = $d/index.txt\n"
        . "crlnumber = $d/crlnumber\ndefault_md = sha256\ndefault_crl_days = 30\n");
    run('openssl', 'ca', '-gencrl', '-config', "$d/ca.cnf", '-cert', $ca->{cert}, '-keyfile', $ca->{key},
        '-out', "$d/$kind.crl");
    return "$d/$kind.crl";
}

# ---------------------------------------------------------------- PostgreSQL

sub pg_bindir {
    my @d = sort { ($a =~ /(\d+)/)[0] <=> ($b =~ /(\d+)/)[0] } glob '/usr/lib/postgresql/*/bin';
    croak "no PostgreSQL server installed (/usr/lib/postgresql/*/bin)" unless @d;
    return $d[-1];
}

# postgres - initdb and start a private cluster; returns
#   {conninfo, socket_dir, port, superuser conninfo, psql => sub(SQL) -> output}
sub postgres {
    my ($self, %o) = @_;
    return $self->{pg} if $self->{pg};
    my $bin = pg_bindir();
    my $d = "$self->{dir}/pg";
    make_path("$d/run");
    my (undef, undef, $uid, $gid) = getpwnam('postgres') or croak "no postgres user";
    chown $uid, $gid, $d, "$d/run";
    my $port = free_port('127.0.0.1');
    my $log = "$d/postgres.log";
    my $as = sub { ('runuser', '-u', 'postgres', '--', @_) };
    my $out = qx{@{[ join ' ', map { shell_quote($_) } $as->("$bin/initdb", '-D', "$d/data",
        '-A', 'trust', '-U', 'postgres', '-E', 'UTF8', '--locale=C.UTF-8', '--no-sync') ]} 2>&1};
    croak "initdb failed:\n$out" if $?;
    my $ctl = sub { join ' ', map { shell_quote($_) } $as->("$bin/pg_ctl", '-D', "$d/data", @_) };
    my $start = sub {
        system($ctl->('-l', $log, '-w', '-t', '30', '-o',
            "-c listen_addresses=127.0.0.1 -p $port -c unix_socket_directories=$d/run"
            . " -c fsync=off -c synchronous_commit=off -c full_page_writes=off", 'start')
            . " >>$d/start.out 2>&1") == 0
            or croak "PostgreSQL did not start:\n" . tail("$d/start.out") . tail($log);
    };
    $start->();
    my $stop = sub { system($ctl->('-m', 'fast', '-w', 'stop') . " >>$d/start.out 2>&1") == 0 };
    $self->on_stop(postgres => sub { -e "$d/data/postmaster.pid" and ($stop->() or warn "# pg_ctl stop failed\n") });
    my $super = "host=$d/run port=$port user=postgres dbname=postgres";
    my $psql = sub {
        my ($sql, $ci) = @_;
        return run('psql', '-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1',
                   '-d', $ci || $super, '-c', $sql);
    };
    # The add-on connects as its own role, owner of its own database.
    $psql->("CREATE ROLE mssante LOGIN");
    $psql->("CREATE DATABASE mssante OWNER mssante");
    my $ci = "host=$d/run port=$port user=mssante dbname=mssante";
    return $self->{pg} = {
        conninfo   => $ci,
        superuser  => $super,
        socket_dir => "$d/run",
        port       => $port,
        log        => $log,
        bindir     => $bin,
        datadir    => "$d/data",
        psql       => sub { $psql->($_[0], $_[1] || $ci) },
        stop       => $stop,                  # for tests of an outage
        start      => $start,
    };
}

# postgres_standby - a streaming standby of the sandbox's PostgreSQL (made by
# pg_basebackup), for switchover tests. Returns {socket_dir, port, log,
# promote => sub, stop => sub, psql => sub(SQL)} (psql as the superuser).
sub postgres_standby {
    my ($self) = @_;
    return $self->{pg_standby} if $self->{pg_standby};
    my $pg = $self->postgres;
    my $bin = $pg->{bindir};
    my $d = "$self->{dir}/pg-standby";
    make_path("$d/run");
    my (undef, undef, $uid, $gid) = getpwnam('postgres');
    chown $uid, $gid, $d, "$d/run";
    my $port = free_port('127.0.0.1');
    my $log = "$d/postgres.log";
    my @as = ('runuser', '-u', 'postgres', '--');
    my $q = sub { join ' ', map { shell_quote($_) } @_ };
    # -R: standby.signal and primary_conninfo; -X stream: the WAL comes along.
    my $out = qx{@{[ $q->(@as, "$bin/pg_basebackup", '-h', $pg->{socket_dir}, '-p', $pg->{port},
        '-U', 'postgres', '-D', "$d/data", '-R', '-X', 'stream', '-c', 'fast') ]} 2>&1};
    croak "pg_basebackup failed:\n$out" if $?;
    my $ctl = sub { $q->(@as, "$bin/pg_ctl", '-D', "$d/data", @_) };
    system($ctl->('-l', $log, '-w', '-t', '30', '-o',
        "-c listen_addresses=127.0.0.1 -p $port -c unix_socket_directories=$d/run", 'start')
        . " >>$d/start.out 2>&1") == 0
        or croak "the PostgreSQL standby did not start:\n" . tail("$d/start.out") . tail($log);
    my $stop = sub { system($ctl->('-m', 'fast', '-w', 'stop') . " >>$d/start.out 2>&1") == 0 };
    $self->on_stop('postgres standby' => sub { -e "$d/data/postmaster.pid" and $stop->() });
    my $super = "host=$d/run port=$port user=postgres dbname=postgres";
    return $self->{pg_standby} = {
        socket_dir => "$d/run", port => $port, log => $log, stop => $stop,
        promote    => sub { system($ctl->('-w', '-t', '30', 'promote') . " >>$d/start.out 2>&1") == 0 },
        psql       => sub { run('psql', '-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-d', $_[1] || $super, '-c', $_[0]) },
    };
}

# migrated - PostgreSQL with the add-on's schema applied, and an
# mssante.conf naming it; returns ($pg, $conf_path)
sub migrated {
    my ($self) = @_;
    my $pg = $self->postgres;
    unless ($self->{migrated}++) {
        run($self->bin('mssante-db'), '--db', $pg->{conninfo}, '--schema-dir', "$self->{top}/schema", 'migrate');
        write_file("$self->{dir}/mssante.conf", "database = $pg->{conninfo}\n");
    }
    return ($pg, "$self->{dir}/mssante.conf");
}

# database - one more database of the add-on in the sandbox's PostgreSQL
# (another operator's), migrated; returns its conninfo
sub database {
    my ($self, $name) = @_;
    my ($pg) = $self->migrated;
    my $ci = "host=$pg->{socket_dir} port=$pg->{port} user=mssante dbname=$name";
    unless ($self->{databases}{$name}++) {
        $pg->{psql}->("CREATE DATABASE $name OWNER mssante", $pg->{superuser});
        run($self->bin('mssante-db'), '--db', $ci, '--schema-dir', "$self->{top}/schema", 'migrate');
    }
    return $ci;
}

# mail_role - the read-only role Postfix and Dovecot read a database of the
# add-on with (default mssante), created and granted as the README says
sub mail_role {
    my ($self, $db) = @_;
    my ($pg) = $self->migrated;
    $db ||= 'mssante';
    $pg->{psql}->("CREATE ROLE mssante_mail LOGIN", $pg->{superuser}) unless $self->{mail_role}++;
    $pg->{psql}->("GRANT SELECT ON mail_domain, mail_box, mail_alias TO mssante_mail",
                  "host=$pg->{socket_dir} port=$pg->{port} user=postgres dbname=$db")
        unless $self->{mail_grant}{$db}++;
}

# mail_conf - a shipped conf/ file of the mail servers' PostgreSQL maps,
# written to dest with only the sandbox's port (and database) put in
sub mail_conf {
    my ($self, $name, $dest, $db) = @_;
    $db ||= 'mssante';
    $self->mail_role($db);
    my $port = $self->{pg}{port};
    my $s = slurp("$self->{top}/conf/$name");
    ($s =~ s/^hosts = 127\.0\.0\.1$/hosts = 127.0.0.1:$port/m)
        + ($s =~ s/host=127\.0\.0\.1 port=5432 /host=127.0.0.1 port=$port /) == 1
        or croak "conf/$name: no PostgreSQL address to point at the sandbox";
    ($s =~ s/^dbname = mssante$/dbname = $db/m) + ($s =~ s/ dbname=mssante / dbname=$db /) == 1
        or croak "conf/$name: no database name";
    return write_file($dest, $s);
}

# ---------------------------------------------------------------- slapd

# slapd - an OpenLDAP server with an mdb database loaded from LDIF
#   (default size limit 500); options base, ldif (entries under the base),
#   tls => a server certificate from issue() (StartTLS), limits => [ "who
#   limits" lines ]. Returns {uri, base, binddn, bindpw, log}
sub slapd {
    my ($self, %o) = @_;
    my $d = "$self->{dir}/ldap";
    make_path("$d/db");
    my $base = $o{base} || 'dc=mssante,dc=test';
    my ($dc) = $base =~ /^dc=([^,]+)/;
    my $bindpw = 'sandbox-ldap-admin';
    my $port = free_port('127.0.0.1');
    # StartTLS with a certificate of the test PKI; limits for chosen accounts.
    my $tls = $o{tls} ? "TLSCACertificateFile $self->{pki}{bundle}\nTLSCertificateFile $o{tls}{chain}\n"
                      . "TLSCertificateKeyFile $o{tls}{key}\n" : '';
    my $limits = join '', map { "limits $_\n" } @{ $o{limits} || [] };
    my $conf = write_file("$d/slapd.conf", <<"EOF");
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
include /etc/ldap/schema/nis.schema
pidfile $d/slapd.pid
argsfile $d/slapd.args
modulepath /usr/lib/ldap
moduleload back_mdb
$tls
database mdb
maxsize 268435456
suffix "$base"
rootdn "cn=admin,$base"
rootpw $bindpw
directory $d/db
index objectClass eq
index mail eq
$limits
EOF
    my $ldif = "dn: $base\nobjectClass: dcObject\nobjectClass: organization\ndc: $dc\n"
             . "o: $dc\n\n" . ($o{ldif} || '');
    write_file("$d/init.ldif", $ldif);
    run('slapadd', '-q', '-f', $conf, '-l', "$d/init.ldif");
    my $log = "$d/slapd.log";
    my $pid = fork // croak "fork: $!";
    if ($pid == 0) {
        open STDOUT, '>', $log; open STDERR, '>&', \*STDOUT;
        exec 'slapd', '-f', $conf, '-h', "ldap://127.0.0.1:$port/", '-d', '256';
        exit 127;
    }
    $self->on_stop(slapd => sub { kill 'TERM', $pid; wait_gone($pid, 10) or kill 'KILL', $pid });
    wait_port('127.0.0.1', $port, 15)
        or croak "slapd did not start on 127.0.0.1:$port:\n" . tail($log);
    return $self->{ldap} = {
        uri => "ldap://127.0.0.1:$port/", base => $base, binddn => "cn=admin,$base",
        bindpw => $bindpw, log => $log, conf => $conf, pid => $pid,
    };
}

# slapd_config - a slapd configured the Debian way (cn=config): the global
# settings, schemas (core, cosine, inetorgperson) and module of Debian's own
# slapd.init.ldif, then the databases given as LDIF (ldif => text, as a
# sysadmin adds them with ldapadd; "@DIR@" becomes a directory of the
# sandbox). Its operations are logged (slapd -d 256) unless quiet => 1: then,
# as Debian's olcLogLevel "none", nothing is. Returns {uri, ldapi (its local
# socket), port, dir, log, pid, start => sub, stop => sub}:
# stop and start again on the same port and data.
sub slapd_config {
    my ($self, %o) = @_;
    my $d = "$self->{dir}/" . ($o{name} || 'slapd-config');
    make_path("$d/cfg", "$d/db");
    (my $dbs = $o{ldif}) =~ s/\@DIR\@/$d\/db/g;
    write_file("$d/config.ldif", <<"EOF" . $dbs);
dn: cn=config
objectClass: olcGlobal
cn: config
olcPidFile: $d/slapd.pid
olcArgsFile: $d/slapd.args
olcLogLevel: none

dn: cn=module{0},cn=config
objectClass: olcModuleList
cn: module{0}
olcModulePath: /usr/lib/ldap
olcModuleLoad: back_mdb

dn: cn=schema,cn=config
objectClass: olcSchemaConfig
cn: schema

include: file:///etc/ldap/schema/core.ldif
include: file:///etc/ldap/schema/cosine.ldif
include: file:///etc/ldap/schema/inetorgperson.ldif

dn: olcDatabase={-1}frontend,cn=config
objectClass: olcDatabaseConfig
objectClass: olcFrontendConfig
olcDatabase: {-1}frontend

dn: olcDatabase=config,cn=config
objectClass: olcDatabaseConfig
olcDatabase: config

EOF
    run('slapadd', '-q', '-n0', '-F', "$d/cfg", '-l', "$d/config.ldif");
    my $port = free_port('127.0.0.1');
    (my $sock = "$d/ldapi") =~ s{/}{%2F}g;
    my $s = { uri => "ldap://127.0.0.1:$port/", ldapi => "ldapi://$sock", port => $port, dir => $d,
              log => "$d/slapd.log" };
    $s->{start} = sub {
        my $pid = fork // croak "fork: $!";
        if ($pid == 0) {
            open STDOUT, '>>', $s->{log}; open STDERR, '>&', \*STDOUT;
            exec 'slapd', '-F', "$d/cfg", '-h', "$s->{uri} $s->{ldapi}", '-d', $o{quiet} ? '0' : '256';
            exit 127;
        }
        $s->{pid} = $pid;
        wait_port('127.0.0.1', $port, 15) or croak "slapd did not start on 127.0.0.1:$port:\n" . tail($s->{log});
    };
    $s->{stop} = sub {
        return unless $s->{pid};
        kill 'TERM', $s->{pid};
        wait_gone($s->{pid}, 10) or kill 'KILL', $s->{pid};
        waitpid $s->{pid}, 0;
        delete $s->{pid};
    };
    $s->{start}->();
    $self->on_stop("slapd-$d" => sub { $s->{stop}->() });
    return $s;
}

# ---------------------------------------------------------------- Dovecot

# dovecot - IMAP and LMTP on loopback ports, mail under the sandbox.
#   users => { 'user@domain' => 'password', ... }
#   mail => 'maildir' (default), 'mdbox' or 'sdbox'; mail_options => ':UTF-8' etc.
#   plugins => [ paths of our .so ] (loaded beside Dovecot's own modules)
#   auth_modules => [ paths of our auth .so ] (seen by this Dovecot alone, in
#     Dovecot's auth module directory of its own mount namespace),
#   passdb => "lines of the passdb block",
#   userdb_sql => 1 (or a database name): the shipped SQL userdb (active BALs, quota)
#   quota => {admin => mssante-admin, conf => mssante.conf}: the shipped quota snippet,
#     quota-status on DIR/run/quota-status
#     (sanitized builds: env => [VAR=value...] is what a Dovecot program run
#     by hand needs, and sanitizer reports go to DIR/sanitizer.PID)
#   extra => text appended to dovecot.conf
# Returns {imap_port, lmtp_port, conf, log, maildir, dir, env}
sub dovecot {
    my ($self, %o) = @_;
    my $name = $o{name} || 'dovecot';
    my $d = "$self->{dir}/$name";
    make_path("$d/run", "$d/state", "$d/mail", "$d/home");
    my (undef, undef, $vuid, $vgid) = getpwnam('nobody') or croak "no nobody user";
    chown $vuid, $vgid, "$d/mail", "$d/home";
    my $imap = free_port('127.0.0.1');
    my $lmtp = free_port('127.0.0.1');
    my $users = '';
    for my $u (sort keys %{ $o{users} || {} }) {
        my $hash = run('openssl', 'passwd', '-6', $o{users}{$u});
        chomp $hash;
        $users .= "$u:{SHA512-CRYPT}$hash\n";
    }
    write_file("$d/users", $users, 0640);
    chown 0, scalar(getgrnam('dovecot')), "$d/users";
    my $log = "$d/dovecot.log";
    # Our plugins beside Dovecot's own (one mail_plugin_dir holds them all).
    my $moddir = '/usr/lib/dovecot/modules';
    if (my @ours = @{ $o{plugins} || [] }) {
        $moddir = "$d/modules";
        make_path($moddir);
        for my $m (glob('/usr/lib/dovecot/modules/*')) {
            symlink $m, "$moddir/" . basename($m) or croak "symlink $m: $!";
        }
        # Copies: the checkout may sit where the mail user cannot read (dovecot-lda).
        for my $m (@ours) {
            copy($m, "$moddir/" . basename($m)) or croak "copy $m: $!";
            chmod 0755, "$moddir/" . basename($m);
        }
    }
    # Plugins built with the sanitizers need their runtime loaded first in
    # every Dovecot process: preload it, reports to files the tests read.
    my @env;
    # Auth modules load only from Dovecot's own directory (compiled in).
    # The sandbox's Dovecot runs in a mount namespace of its own where a
    # directory of the sandbox is bind-mounted over that one: Dovecot's
    # modules and ours (copies: the auth process runs as the dovecot user,
    # who may not read the checkout). The system directory is never written.
    my @ns;
    if (my @auth = @{ $o{auth_modules} || [] }) {
        my $sys = '/usr/lib/dovecot/modules/auth';
        my $ad = "$d/auth-modules";
        make_path($ad);
        chmod 0755, $ad;
        my %ours = map { basename($_) => $_ } @auth;
        for my $m (glob("$sys/*")) {
            my $b = basename($m);
            next if $ours{$b};
            if (-l $m) {        # e.g. libdriver_pgsql.so -> ../libdriver_pgsql.so
                symlink readlink($m), "$ad/$b" or croak "symlink $ad/$b: $!";
            } else {
                copy($m, "$ad/$b") or croak "copy $m: $!";
            }
        }
        for my $b (keys %ours) {
            copy($ours{$b}, "$ad/$b") or croak "copy $ours{$b}: $!";
            chmod 0644, "$ad/$b";
        }
        @ns = ('unshare', '--mount', '--propagation', 'private', '--', 'sh', '-c',
               'mount --bind "$0" "$1" && shift && exec "$@"', $ad, $sys);
    }
    my @ours = (@{ $o{plugins} || [] }, @{ $o{auth_modules} || [] });
    if (my ($rt) = grep { /libasan/ } map { scalar qx{ldd $_ 2>/dev/null} } @ours) {
        my @libs = $rt =~ m{=> (\S+/lib(?:asan|ubsan)\.so\S*)}g;
        @env = ('LD_PRELOAD=' . join(':', @libs),
                "ASAN_OPTIONS=detect_leaks=0:log_path=$d/sanitizer",
                "UBSAN_OPTIONS=print_stacktrace=1:log_path=$d/sanitizer");
    }
    my $import = join ' ', qw(TZ CORE_OUTOFMEM CORE_ERROR LISTEN_PID LISTEN_FDS), @env;
    # The shipped quota snippet: quota-status and the warning service in the sandbox.
    my $quota = '';
    if (my $q = $o{quota}) {
        $quota = slurp("$self->{top}/conf/dovecot-quota.conf");
        my $n = ($quota =~ s{unix_listener /var/spool/postfix/private/mssante-quota-status \{}
                            {unix_listener quota-status \{})
              + ($quota =~ s{executable = script /usr/sbin/mssante-admin quota-warning}
                            {executable = script $q->{admin} -c $q->{conf} quota-warning})
              + ($quota =~ s{^  user = mssante$}{  user = root}m)
              + ($quota =~ s{^    user = vmail$}{    user = nobody}m);
        $n == 4 or croak "conf/dovecot-quota.conf: not the lines the sandbox adapts";
    }
    my $format = $o{mail} || 'maildir';
    my $conf = write_file("$d/dovecot.conf", <<"EOF" . $quota . ($o{extra} || ''));
# sandbox Dovecot: nothing here reads /etc/dovecot
mail_plugin_dir = $moddir
import_environment = $import
${\ (@env ? "default_vsz_limit = 0    # the sanitizer's shadow memory\n" : '') }base_dir = $d/run
state_dir = $d/state
instance_name = mssante-$name-$$
protocols = imap lmtp
listen = 127.0.0.1
log_path = $log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
default_internal_user = dovecot
default_login_user = dovenull
first_valid_uid = 1
mail_location = $format:$d/mail/%d/%n${\ ($o{mail_options} || '') }
${\ ($o{userdb_sql} ? "mail_home = $d/home/%d/%n    # the SQL userdb names no home, as shipped\n" : '') }
mail_uid = nobody
mail_gid = nogroup
postmaster_address = postmaster\@sandbox.test
passdb {
${\ ($o{passdb} || "  driver = passwd-file\n  args = $d/users") }
}
userdb {
${\ ($o{userdb_sql} ? "  driver = sql\n  args = "
       . $self->mail_conf('dovecot-sql.conf.ext', "$d/dovecot-sql.conf.ext", $o{userdb_sql} =~ s/^1$//r)
     : "  driver = static\n  args = home=$d/mail/%d/%n" . ($o{passdb} ? ' allow_all_users=yes' : '')) }
}
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = $imap
  }
  inet_listener imaps {
    port = 0
  }
}
service lmtp {
  inet_listener lmtp {
    address = 127.0.0.1
    port = $lmtp
  }
}
service stats {
  unix_listener stats-writer {
    mode = 0666
  }
}
# No growing delay after failed logins from 127.0.0.1: tests fail on purpose.
service anvil {
  unix_listener anvil-auth-penalty {
    mode = 0
  }
}
EOF
    # A daemon keeps what it inherited open: give it a file, not a pipe.
    my $start = join ' ', map { shell_quote($_) } @ns, 'env', @env, 'dovecot', '-c', $conf;
    system("$start >$d/start.out 2>&1") == 0
        or croak "Dovecot did not start:\n" . tail("$d/start.out") . tail($log);
    $self->on_stop($name => sub {
        # What "dovecot stop" does, without its wait for the pid to vanish:
        # a master re-parented to an init that does not reap stays a zombie.
        # Wait for the master to go, so that ports and base_dir are free.
        my ($pid) = slurp("$d/run/master.pid") =~ /(\d+)/;
        return unless $pid && kill 'TERM', $pid;
        wait_gone($pid, 10) or kill 'KILL', $pid;
    });
    for my $p ($imap, $lmtp) {
        wait_port('127.0.0.1', $p, 15)
            or croak "Dovecot does not listen on 127.0.0.1:$p:\n" . tail($log);
    }
    return $self->{$name} = {
        imap_port => $imap, lmtp_port => $lmtp, conf => $conf, log => $log,
        maildir => "$d/mail", dir => $d, env => \@env,
    };
}

# ---------------------------------------------------------------- Postfix

# postfix - a Postfix instance of its own (config, queue, data directories).
#   name => 'a', addr => '127.0.0.2', domains => [...] (delivered locally),
#   lmtp => "inet:127.0.0.1:PORT" (where local domains go),
#   recipients => [...] (valid local addresses), main => {key => value},
#   master => "extra master.cf lines", transport => {domain => nexthop},
#   pgsql => 1 (or a database name): domains, mailboxes and aliases from the
#   sandbox's PostgreSQL through the shipped conf/postfix-pgsql-*.cf (instead
#   of domains and recipients)
# Returns {smtp_port, addr, config_dir, maillog, queue_dir, postfix => sub(@args)}
sub postfix {
    my ($self, %o) = @_;
    my $name = $o{name} or croak "postfix: name";
    my $addr = $o{addr} || '127.0.0.1';
    my $d = "$self->{dir}/postfix-$name";
    make_path("$d/etc", "$d/queue", "$d/data");
    my (undef, undef, $pfuid, $pfgid) = getpwnam('postfix') or croak "no postfix user";
    chown $pfuid, $pfgid, "$d/data";
    my $port = $o{port} || free_port($addr);
    my $maillog = "$d/maillog";
    my %main = (
        compatibility_level        => '3.6',
        queue_directory            => "$d/queue",
        data_directory             => "$d/data",
        mail_owner                 => 'postfix',
        setgid_group               => 'postdrop',
        myhostname                 => $o{hostname} || "mx.$name.sandbox.test",
        mydomain                   => $o{domains} ? $o{domains}[0] : "$name.sandbox.test",
        myorigin                   => '$mydomain',
        mydestination              => '',
        inet_interfaces            => 'loopback-only',
        inet_protocols             => 'ipv4',
        smtp_bind_address          => $addr,
        lmtp_bind_address          => '',
        mynetworks                 => '127.0.0.0/8',
        maillog_file               => $maillog,
        maillog_file_prefixes      => $self->{dir},
        alias_maps                 => '',
        alias_database             => '',
        local_recipient_maps       => '',
        relayhost                  => '',
        biff                       => 'no',
        smtputf8_enable            => 'no',
        append_dot_mydomain        => 'no',
        smtpd_banner               => '$myhostname ESMTP',
        $o{pgsql} ? (
            map { my ($key, $map) = @$_;
                  ($key => 'proxy:pgsql:' . $self->mail_conf("postfix-pgsql-$map.cf", "$d/etc/mssante-$map.cf",
                                                            $o{pgsql} =~ s/^1$//r)) }
            [virtual_mailbox_domains => 'domains'], [virtual_mailbox_maps => 'mailboxes'],
            [virtual_alias_maps => 'aliases']
        ) : (
            virtual_mailbox_domains => join(' ', @{ $o{domains} || [] }),
            virtual_mailbox_maps    => "texthash:$d/etc/recipients",
        ),
        virtual_transport          => $o{lmtp} ? "lmtp:$o{lmtp}" : 'error:no mailbox here',
        transport_maps             => "texthash:$d/etc/transport",
        smtp_host_lookup           => 'native',
        disable_dns_lookups        => 'yes',
        queue_run_delay            => '2s',
        minimal_backoff_time       => '2s',
        maximal_backoff_time       => '4s',
        smtp_connect_timeout       => '5s',
        delay_warning_time         => '0',
        notify_classes             => '',
        %{ $o{main} || {} },
    );
    write_file("$d/etc/main.cf",
        join '', map { "$_ = $main{$_}\n" } sort keys %main);
    write_file("$d/etc/recipients", join '', map { "$_ OK\n" } @{ $o{recipients} || [] });
    write_file("$d/etc/transport",
        join '', map { "$_ $o{transport}{$_}\n" } sort keys %{ $o{transport} || {} });
    # chroot = n everywhere: the sandbox has no chroot jail to offer.
    # The inbound listener, and optionally a submission listener of our users.
    my $smtpd = "$addr:$port inet  n       -       n       -       -       smtpd"
              . join('', map { "\n  -o $_" } @{ $o{smtpd_args} || [] }) . "\n";
    if (my $sub = $o{submission}) {
        $sub->{port} ||= free_port($addr);
        $smtpd .= "$addr:$sub->{port} inet  n       -       n       -       -       smtpd"
                . join('', map { "\n  -o $_" } @{ $sub->{args} || [] }) . "\n";
    }
    write_file("$d/etc/master.cf", $smtpd . <<"EOF" . ($o{master} || ''));
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
virtual   unix  -       n       n       -       -       virtual
lmtp      unix  -       -       n       -       -       lmtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
EOF
    my $pf = sub { run('postfix', '-c', "$d/etc", @_) };
    system("postfix -c $d/etc start >$d/start.out 2>&1") == 0
        or croak "Postfix $name did not start:\n" . tail("$d/start.out") . tail($maillog);
    $self->on_stop("postfix-$name" => sub {
        system("postfix -c $d/etc stop >/dev/null 2>&1");
        my ($pid) = slurp("$d/queue/pid/master.pid") =~ /(\d+)/;
        wait_gone($pid, 10) if $pid;
    });
    wait_port($addr, $port, 15)
        or croak "Postfix $name does not listen on $addr:$port:\n" . tail($maillog);
    return $self->{"postfix-$name"} = {
        name => $name, addr => $addr, smtp_port => $port, config_dir => "$d/etc",
        submission_port => $o{submission} ? $o{submission}{port} : undef,
        maillog => $maillog, queue_dir => "$d/queue", postfix => $pf,
    };
}

# postqueue_empty - wait until a Postfix instance has delivered everything
sub postqueue_empty {
    my ($self, $pf, $timeout) = @_;
    my $end = time + ($timeout || 20);
    while (time < $end) {
        my $q = qx{postqueue -c $pf->{config_dir} -j 2>/dev/null};
        return 1 if $? == 0 && $q !~ /\S/;
        qx{postqueue -c $pf->{config_dir} -f 2>/dev/null};
        sleep 0.2;
    }
    return 0;
}

# sendmail_relay - a stand-in for /usr/sbin/sendmail that Dovecot's mail
# user may run: Postfix refuses "sendmail -C" (another configuration) to
# users other than root. The stand-in spools the message and its arguments
# and returns 0, as postdrop does; a process of the test (root) hands each
# one to the real "sendmail -C" of the sandbox's Postfix, so that pickup,
# cleanup and the non_smtpd_milters see it as they would in production.
# name => the Postfix instance's name (it may start later). Returns the
# stand-in's path; the relay logs each hand-over in "$path.log".
sub sendmail_relay {
    my ($self, $name) = @_;
    return $self->{relays}{$name} if $self->{relays}{$name};      # one relay per instance
    my $d = "$self->{dir}/sendmail-$name";
    my $config_dir = "$self->{dir}/postfix-$name/etc";
    make_path("$d/spool");
    chmod 01777, "$d/spool";
    my $sm = write_file("$d/sendmail", <<"EOF", 0755);
#!/bin/sh
f=$d/spool/\$\$.\$(date +%s%N)
printf '%s\\0' "\$@" > "\$f.args" && cat > "\$f.tmp" && mv "\$f.tmp" "\$f.msg"
EOF
    my $pid = fork // croak "fork: $!";
    if ($pid == 0) {
        # Never back into the test's code (its DESTROY would stop the sandbox).
        $SIG{TERM} = sub { POSIX::_exit(0) };
        open my $log, '>>', "$sm.log" or POSIX::_exit(1);
        $log->autoflush(1);
        eval { while (1) {
            for my $m (sort glob "$d/spool/*.msg") {
                (my $b = $m) =~ s/\.msg$//;
                my @args = split /\0/, slurp("$b.args");
                my $rc = system(join(' ', map { shell_quote($_) } 'sendmail', '-C', $config_dir, @args)
                                . ' <' . shell_quote($m));
                print $log "sendmail @args: exit ", $rc >> 8, "\n";
                unlink $m, "$b.args";
            }
            sleep 0.05;
        } };
        print $log "relay: $@";
        POSIX::_exit(1);
    }
    $self->on_stop("sendmail-$name" => sub { kill 'TERM', $pid; wait_gone($pid, 5) });
    return $self->{relays}{$name} = $sm;
}

# ---------------------------------------------------------------- milters

# milter - run one of our milters in the foreground on a unix socket.
#   bin => path, name => label, args => [...] (e.g. -c CONF, -u USER)
# Returns {socket => "unix:PATH", path, log, pid, stop => sub}. The socket
# lives in a directory Postfix's user can traverse.
sub milter {
    my ($self, %o) = @_;
    my $name = $o{name} || 'milter';
    my $d = "$self->{dir}/$name";
    make_path($d);
    chmod 0755, $d;
    my $path = "$d/$name.sock";
    my $log = "$d/$name.log";
    my $pid = fork // croak "fork: $!";
    if ($pid == 0) {
        open STDOUT, '>>', $log; open STDERR, '>&', \*STDOUT;
        exec $o{bin}, '-f', '-p', "unix:$path", @{ $o{args} || [] };
        exit 127;
    }
    my $end = time + 10;
    sleep 0.02 until -S $path || time > $end || waitpid($pid, WNOHANG) == $pid;
    croak "$name did not open its socket $path:\n" . tail($log) unless -S $path;
    my $m = { socket => "unix:$path", path => $path, log => $log, pid => $pid };
    $m->{stop} = sub {
        return unless kill 0, $pid;
        kill 'TERM', $pid;
        # libmilter takes seconds to exit after SIGTERM: wait for the pid.
        wait_gone($pid, 15) or do { kill 'KILL', $pid; wait_gone($pid, 5) };
    };
    $self->on_stop($name => $m->{stop});
    return $m;
}

# milter_say - one packet (command letter and data) to a milter on a
# connected socket: the first reply read, '' when it hung up or said nothing
# within $timeout s (10)
sub milter_say {
    my ($s, $cmd, $data, $timeout) = @_;
    local $SIG{PIPE} = 'IGNORE';
    my $got = '';
    print $s pack('N', 1 + length $data), $cmd, $data or return '';
    IO::Select->new($s)->can_read($timeout // 10) and $s->sysread($got, 4096);
    return $got;
}

# https_server - serve a directory over HTTPS on 127.0.0.1 (Python's file
# server: Last-Modified, If-Modified-Since, 304) with a test-PKI certificate
# for "localhost"; its log names each request and its ESANTE-API-KEY header.
# Returns {port, log, dir}.
sub https_server {
    my ($self, $root) = @_;
    my $srv = $self->issue(kind => 'server', cn => 'localhost', o => 'ANS TEST');
    my $portfile = "$self->{dir}/https.port";
    my $log = "$self->{dir}/https.log";
    my $pid = fork // croak "fork: $!";
    if ($pid == 0) {
        open STDOUT, '>', $log; open STDERR, '>&', \*STDOUT;
        exec '/usr/bin/python3', "$self->{top}/t/helpers/https-server.py", $portfile,
            $srv->{chain}, $srv->{key}, $root;
        exit 127;
    }
    $self->on_stop(https => sub { kill 'TERM', $pid; wait_gone($pid, 5) });
    my $end = time + 10;
    sleep 0.05 until -s $portfile || time > $end;
    croak "the HTTPS server did not start:\n" . tail($log) unless -s $portfile;
    return { port => slurp($portfile), log => $log, dir => $root };
}

# ---------------------------------------------------------------- web

# nginx - an nginx of the sandbox serving the given server blocks (text);
# its pid file, logs and temporary files all in its directory. Returns
# {dir, error_log, access_log}.
sub nginx {
    my ($self, %o) = @_;
    my $d = "$self->{dir}/" . ($o{name} || 'nginx');
    make_path("$d/tmp");
    my $conf = write_file("$d/nginx.conf", <<"EOF");
# sandbox nginx: nothing here reads /etc/nginx
daemon on;
pid $d/nginx.pid;
error_log $d/error.log info;
worker_processes 1;
events { worker_connections 512; }
http {
    default_type application/octet-stream;
    access_log $d/access.log;
    client_body_temp_path $d/tmp/body;
    proxy_temp_path $d/tmp/proxy;
    fastcgi_temp_path $d/tmp/fastcgi;
    uwsgi_temp_path $d/tmp/uwsgi;
    scgi_temp_path $d/tmp/scgi;
$o{servers}
}
EOF
    my @cmd = ('nginx', '-p', $d, '-e', "$d/error.log", '-c', $conf);
    system(join(' ', map { shell_quote($_) } @cmd) . " >$d/start.out 2>&1") == 0
        or croak "nginx did not start:\n" . tail("$d/start.out") . tail("$d/error.log");
    $self->on_stop(nginx => sub {
        my ($pid) = (-e "$d/nginx.pid" ? slurp("$d/nginx.pid") : '') =~ /(\d+)/;
        system(join(' ', map { shell_quote($_) } @cmd, '-s', 'quit') . " >>$d/start.out 2>&1");
        wait_gone($pid, 10) or kill 'KILL', $pid if $pid;
    });
    return { dir => $d, error_log => "$d/error.log", access_log => "$d/access.log" };
}

# daemon - one of our daemons in the foreground (-f), output to its log;
# ready when port answers on 127.0.0.1. Returns {pid, log, stop => sub}.
sub daemon {
    my ($self, %o) = @_;
    my $name = $o{name} or croak "daemon: name";
    my $log = "$self->{dir}/$name.log";
    my $pid = fork // croak "fork: $!";
    if ($pid == 0) {
        open STDOUT, '>>', $log; open STDERR, '>&', \*STDOUT;
        exec @{ $o{cmd} };
        exit 127;
    }
    my $d = { pid => $pid, log => $log };
    $d->{stop} = sub {
        return unless kill 0, $pid;
        kill 'TERM', $pid;
        wait_gone($pid, 10) or do { kill 'KILL', $pid; wait_gone($pid, 5) };
    };
    $self->on_stop($name => $d->{stop});
    wait_port('127.0.0.1', $o{port}, 10)
        or croak "$name does not listen on 127.0.0.1:$o{port}:\n" . tail($log);
    return $d;
}

# ---------------------------------------------------------------- clients

# imap - a minimal IMAP client: login, then commands; returns an object
# whose cmd() sends one tagged command and returns (status, full text).
# swaks - one message over real SMTP; returns (exit status, transcript).
#   from, to => [...], subject, helo, local (source address), cert => {cert, key}
#   (STARTTLS with that client certificate), tls (STARTTLS without one),
#   auth => [user, password] (AUTH PLAIN), headers => [...], body,
#   attach => [file, name, type] (a multipart/mixed message)
sub swaks {
    my ($host, $port, %o) = @_;
    my @cmd = ('swaks', '--server', $host, '--port', $port, '--helo', $o{helo} || 'client.test',
               '--from', $o{from}, '--header', "Subject: $o{subject}", '--body', $o{body} || 'Bonjour');
    push @cmd, '--to', join(',', @{ $o{to} });
    push @cmd, '--local-interface', $o{local} if $o{local};
    push @cmd, '--tls', '--tls-cert', $o{cert}{cert}, '--tls-key', $o{cert}{key} if $o{cert};
    push @cmd, '--tls' if $o{tls} && !$o{cert};
    push @cmd, '--auth', 'PLAIN', '--auth-user', $o{auth}[0], '--auth-password', $o{auth}[1] if $o{auth};
    push @cmd, '--header', $_ for @{ $o{headers} || [] };
    push @cmd, '--attach-type', $o{attach}[2], '--attach-name', $o{attach}[1], '--attach', "\@$o{attach}[0]"
        if $o{attach};
    my $cmd = join ' ', map { shell_quote($_) } @cmd;
    my $t = qx{$cmd 2>&1};
    return ($? >> 8, $t);
}

# sanitizer_reports - what the sanitizers wrote in Dovecot processes of
# this sandbox (sanitized plugins only); empty when all is well
sub sanitizer_reports {
    my ($self) = @_;
    return map { slurp($_) } glob("$self->{dir}/*/sanitizer.*");
}

# imap - an IMAP login to the sandbox Dovecot; local => address to connect from
sub imap {
    my ($self, $port, $user, $pass, %o) = @_;
    return Sandbox::IMAP->new('127.0.0.1', $port, $user, $pass, %o);
}

package Sandbox::IMAP;

use strict;
use warnings;
use IO::Socket::INET;

sub new {
    my ($class, $host, $port, $user, $pass, %o) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => $host, PeerPort => $port, Proto => 'tcp',
                                  Timeout => 10, $o{local} ? (LocalAddr => $o{local}) : ())
        or die "IMAP connect $host:$port: $!\n";
    my $greeting = <$s>;
    die "IMAP: no greeting\n" unless defined $greeting && $greeting =~ /^\* OK/;
    my $self = bless { s => $s, tag => 0 }, $class;
    my ($st, $txt) = $self->cmd('LOGIN ' . quote($user) . ' ' . quote($pass));
    $self->{login} = [$st, $txt];
    return $self;
}

sub login_ok { $_[0]{login}[0] eq 'OK' }
sub login_text { $_[0]{login}[1] }

sub quote {
    my ($s) = @_;
    $s =~ s/(["\\])/\\$1/g;
    return qq{"$s"};
}

# cmd - send one command, read until its tagged reply (literals included)
sub cmd {
    my ($self, $line) = @_;
    my $tag = 'a' . ++$self->{tag};
    my $s = $self->{s};
    print $s "$tag $line\r\n";
    my $text = '';
    while (defined(my $l = <$s>)) {
        $text .= $l;
        if ($l =~ /\{(\d+)\}\r\n$/) {
            my $n = $1;
            my $buf = '';
            while (length($buf) < $n) {
                my $r = read($s, $buf, $n - length($buf), length($buf));
                last unless $r;
            }
            $text .= $buf;
            next;
        }
        return ($1, $text) if $l =~ /^\Q$tag\E (OK|NO|BAD)/;
    }
    return ('EOF', $text);
}

# fetch - one FETCH item of the first message of a folder whose subject
# contains the text: the reply's text, or undef (also when the folder cannot
# be selected)
sub fetch {
    my ($self, $folder, $subject, $item) = @_;
    my ($st) = $self->cmd('SELECT ' . quote($folder));
    return undef if $st ne 'OK';
    my (undef, $txt) = $self->cmd('SEARCH SUBJECT ' . quote($subject));
    my ($n) = $txt =~ /^\* SEARCH (\d+)/m or return undef;
    return ($self->cmd("FETCH $n ($item)"))[1];
}

# find - the header block of that message, or undef
sub find { my ($self, $folder, $subject) = @_; return $self->fetch($folder, $subject, 'BODY.PEEK[HEADER]') }

# keywords - the keywords ($...) of that message, sorted, space-separated; undef when not found
sub keywords {
    my ($self, $folder, $subject) = @_;
    my ($flags) = ($self->fetch($folder, $subject, 'FLAGS') // '') =~ /FLAGS \(([^)]*)\)/ or return undef;
    return join ' ', sort grep { /^\$/ } split ' ', $flags;
}

# append - store a message in a folder with its INTERNALDATE ("01-Jan-2026
# 10:00:00 +0000"); the status and text of the reply
sub append {
    my ($self, $folder, $date, $msg) = @_;
    return $self->cmd('APPEND ' . quote($folder) . ' ' . quote($date) . ' {' . length($msg) . "+}\r\n$msg");
}

sub logout {
    my ($self) = @_;
    $self->cmd('LOGOUT');
    close $self->{s};
}

1;
