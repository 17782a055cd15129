#!/usr/bin/perl
# The Debian packages: "make deb" builds them from Debian's packages only,
# lintian has nothing to say, and in a clean Debian 12 root (debootstrap,
# the base kept in build/cache between runs) apt installs them with every
# dependency from Debian; the sysadmin's checks succeed there (-n, the real
# liste blanche, doveconf with the shipped snippets, mssante-db migrate on a
# PostgreSQL of that root); an upgrade keeps an edited mssante.conf and the
# database; remove keeps the configuration; purge leaves nothing behind;
# piuparts passes.
# The root runs in namespaces of its own (mounts, processes, and no network
# once the packages are in), so nothing of the host is touched.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use File::Path qw(make_path);
use Test::More;
use Sandbox;
use ListeBlanche;

my $sb = Sandbox->new;
my $dir = $sb->dir;
my $top = $sb->top;
my $mirror = $ENV{MSSANTE_DEBIAN_MIRROR} || 'http://deb.debian.org/debian';
my $cache = $ENV{MSSANTE_DEB_CACHE} || "$top/build/cache";

# ---------------------------------------------------------------- build and lintian
my $b = "$dir/build";
my ($rc, $out, $err) = $sb->command('', 'make', '-C', $top, '--no-print-directory', "B=$b", 'deb');
is($rc, 0, 'make deb builds the packages') or die "make deb failed:\n" . join("\n", (split /\n/, "$out$err")[-30 .. -1]) . "\n";
chomp(my $v = Sandbox::run('dpkg-parsechangelog', '-l', "$top/debian/changelog", '-S', 'Version'));
my @parts = qw(common milters dovecot annuaire portal);
my %deb = map { $_ => "$b/deb/mssante-${_}_${v}_amd64.deb" } @parts;
ok(-f $deb{$_}, "mssante-$_ built") for @parts;

# lintian leaves a cache file of its own in TMPDIR: the sandbox's, not /tmp
make_path("$dir/tmp");
($rc, $out) = $sb->command('', 'env', "TMPDIR=$dir/tmp", 'lintian', '--fail-on', 'error,warning,info,pedantic', '-I', '--pedantic',
                           "$b/deb/mssante_${v}_amd64.changes");
is($rc, 0, 'lintian (pedantic, informational tags too): nothing to say') or diag $out;

like(Sandbox::run('dpkg-deb', '-f', $deb{dovecot}, 'Depends'), qr/\bdovecot-abi-2\.3\.abiv\d+\b/, 'the Dovecot modules depend on the ABI they were built for');
like(Sandbox::run('dpkg-deb', '--info', $deb{common}, 'conffiles'), qr{^/etc/mssante/mssante\.conf$}m,
     'mssante.conf is a conffile');
for my $p (qw(milters dovecot portal)) {
    my $postinst = Sandbox::run('dpkg-deb', '--info', $deb{$p}, 'postinst');
    like($postinst, qr/deb-systemd-helper enable/, "mssante-$p enables its services");
    unlike($postinst, qr/deb-systemd-invoke (start|restart)/, "mssante-$p starts nothing on installation");
}

# ---------------------------------------------------------------- a clean Debian 12 root
# in_root - a shell script in the root, in namespaces of its own: (status, output)
sub in_root {
    my ($script, %o) = @_;
    Sandbox::write_file("$dir/root/tmp/step.sh", "set -e\nexport DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8\n$script");
    my @ns = ('unshare', '--mount', '--pid', '--fork', "--mount-proc=$dir/root/proc", $o{net} ? () : '--net');
    my $output = qx{@ns chroot $dir/root sh /tmp/step.sh 2>&1};
    return ($? >> 8, $output);
}

make_path($cache, "$cache/archives");
my $base = "$cache/debian-12-minbase.tar.gz";
unless (-s $base) {
    Sandbox::run('debootstrap', '--variant=minbase', 'bookworm', "$dir/base", $mirror);
    Sandbox::run('tar', '-C', "$dir/base", '-czf', "$base.$$", '.');
    rename "$base.$$", $base or die "rename $base: $!";
    Sandbox::run('rm', '-rf', "$dir/base");
}
make_path("$dir/root");
Sandbox::run('tar', '-C', "$dir/root", '-xzf', $base);
Sandbox::run('cp', '/etc/resolv.conf', "$dir/root/etc/resolv.conf");
# No service starts in the root (there is no init there anyway).
Sandbox::write_file("$dir/root/usr/sbin/policy-rc.d", "#!/bin/sh\nexit 101\n", 0755);
make_path("$dir/root/tmp/debs", "$dir/root/tmp/next");
Sandbox::run('cp', @deb{@parts}, "$dir/root/tmp/debs/");
# Packages downloaded by earlier runs, to spare the mirror.
Sandbox::run('sh', '-c', "cp $cache/archives/*.deb $dir/root/var/cache/apt/archives/ 2>/dev/null || true");

($rc, $out) = in_root("apt-get -q update\napt-get install -y -q --no-install-recommends /tmp/debs/*.deb\n"
                      . "apt-get install -y -q --no-install-recommends postgresql dovecot-lmtpd dovecot-sieve openssl\n",
                      net => 1);
is($rc, 0, "apt install ./mssante-*.deb pulls every dependency from Debian ($mirror)") or die "apt install failed:\n$out\n";
# Kept for the next run; each file appears whole (renamed into place).
for my $f (glob "$dir/root/var/cache/apt/archives/*.deb") {
    (my $name = $f) =~ s{.*/}{};
    next if -e "$cache/archives/$name";
    Sandbox::run('cp', $f, "$cache/archives/.$name.$$");
    rename "$cache/archives/.$name.$$", "$cache/archives/$name" or die "rename: $!";
}

($rc, $out) = in_root(<<'EOF');
id mssante; id mssante-portal; id postfix
stat -c '%n %U:%G %a' /etc/mssante /etc/mssante/mssante.conf /var/lib/mssante
ls /etc/systemd/system/multi-user.target.wants/
echo "active cron jobs: $(grep -c '^[0-9*]' /etc/cron.d/mssante)"
EOF
is($rc, 0, 'users, modes, units and cron jobs can be read') or diag $out;
like($out, qr/^uid=\d+\(mssante\) gid=\d+\(mssante\)/m, 'system user mssante');
like($out, qr/^uid=\d+\(mssante-portal\)/m, 'system user mssante-portal');
like($out, qr/^uid=\d+\(postfix\).*groups=.*\(mssante\)/m, 'postfix is in the group mssante (the milters\' sockets)');
like($out, qr{^/etc/mssante root:mssante 750$}m, '/etc/mssante root:mssante 0750');
like($out, qr{^/etc/mssante/mssante.conf root:mssante 640$}m, 'mssante.conf root:mssante 0640');
like($out, qr{^/var/lib/mssante mssante:mssante 755$}m, '/var/lib/mssante mssante:mssante 0755');
like($out, qr/^$_\.service$/m, "$_ enabled") for qw(milter-whitelist milter-smime mssante-sasl-proxy mssante-portal);
like($out, qr/^active cron jobs: 0$/m, 'the cron jobs are installed disabled until the add-on is configured');

# ---------------------------------------------------------------- the sysadmin's checks
ListeBlanche::real_signer($sb, "$dir/root/tmp/signer.pem");
Sandbox::run('cp', ListeBlanche::real($sb), "$dir/root/tmp/lb.xml");
($rc, $out) = in_root(<<'EOF');
cp /tmp/signer.pem /etc/mssante/igc-sante-ca.pem
cat >> /etc/mssante/mssante.conf <<'CONF'
database = host=/run/postgresql dbname=mssante user=mssante
our_domains = ch-exemple.mssante.fr
CONF
milter-whitelist -n >/dev/null && echo "milter-whitelist -n: ok"
milter-smime -n >/dev/null && echo "milter-smime -n: ok"
liste-blanche --trust-anchors=/tmp/signer.pem --at 2025-02-28 check /tmp/lb.xml | grep '^entries:'
adduser --system --group --quiet vmail
cat > /etc/dovecot/local.conf <<'CONF'
!include /usr/share/mssante/conf/dovecot-auth-otp.conf
!include /usr/share/mssante/conf/dovecot-patient-folder.conf
!include /usr/share/mssante/conf/dovecot-notify.conf
!include /usr/share/mssante/conf/dovecot-marks.conf
CONF
doveconf -n > /tmp/doveconf.out && echo "doveconf -n: ok"
cat /tmp/doveconf.out
EOF
is($rc, 0, 'the sysadmin\'s checks run') or diag $out;
like($out, qr/^milter-whitelist -n: ok$/m, 'milter-whitelist -n');
like($out, qr/^milter-smime -n: ok$/m, 'milter-smime -n');
like($out, qr/^entries:\s+6494$/m, 'liste-blanche check: the real list of 2025-02-28, 6,494 entries');
like($out, qr/^doveconf -n: ok$/m, 'doveconf -n with the shipped snippets included');
like($out, qr/^passdb \{\n  args = \/etc\/mssante\/mssante\.conf\n  driver = mssante_otp\n\}/m, 'doveconf: the passdb mssante_otp');
like($out, qr/^protocol lmtp \{\n  mail_plugins = .*\bmssante_patient_folder mssante_notify mssante_marks"?$/m,
     'doveconf: the three delivery plugins in LMTP');

# pg - a script between a start and a stop of the root's PostgreSQL (sockets only)
sub pg {
    my ($script) = @_;
    return in_root("c=\$(ls /etc/postgresql)\npg_ctlcluster \$c main start -o \"-c listen_addresses=''\"\n"
                   . "set +e\n$script\nrc=\$?\npg_ctlcluster \$c main stop\nexit \$rc\n");
}
($rc, $out) = pg(<<'EOF');
su postgres -c 'createuser mssante && createdb -O mssante mssante'
su mssante -s /bin/sh -c 'mssante-db status' >/dev/null; echo "status before: $?"
su mssante -s /bin/sh -c 'mssante-db migrate' && echo "migrate: ok"
su mssante -s /bin/sh -c 'mssante-db status' >/dev/null; echo "status after: $?"
su mssante -s /bin/sh -c "psql -qAt -d mssante -c \"INSERT INTO audit_event (actor, action, result) VALUES ('t31', 'before-upgrade', 'ok')\""
EOF
is($rc, 0, 'PostgreSQL in the root') or diag $out;
like($out, qr/^status before: 1$/m, 'mssante-db status: a migration is pending (exit 1) after installation');
like($out, qr/^migrate: ok$/m, 'mssante-db migrate against the root\'s PostgreSQL');
like($out, qr/^status after: 0$/m, 'then nothing is pending');

# ---------------------------------------------------------------- upgrade
# The next version: the same packages, version raised, mssante.conf changed upstream.
my $next = "$v+t31";
for my $p (@parts) {
    my $x = "$dir/next-$p";
    Sandbox::run('dpkg-deb', '-R', $deb{$p}, $x);
    my $c = Sandbox::slurp("$x/DEBIAN/control");
    $c =~ s/^Version: .*$/Version: $next/m;
    $c =~ s/\(= \Q$v\E\)/(= $next)/g;
    Sandbox::write_file("$x/DEBIAN/control", $c);
    if ($p eq 'common') {
        open my $fh, '>>', "$x/etc/mssante/mssante.conf" or die;
        print $fh "# A new comment of the next version.\n";
        close $fh;
    }
    Sandbox::run('dpkg-deb', '--root-owner-group', '-b', $x, "$dir/root/tmp/next/mssante-$p.deb");
}
($rc, $out) = in_root("apt-get install -y -q -o Dpkg::Options::=--force-confold /tmp/next/*.deb\n"
                      . "dpkg-query -W -f '\${Package} \${Version}\\n' 'mssante-*'\n");
is($rc, 0, 'apt upgrades to the next version') or diag $out;
is(scalar(() = $out =~ /^mssante-\w+ \Q$next\E$/mg), 5, 'the five packages at the next version');
($rc, $out) = pg(<<'EOF');
grep '^our_domains' /etc/mssante/mssante.conf
echo "dist: $(grep -c 'new comment of the next version' /etc/mssante/mssante.conf.dpkg-dist)"
stat -c '%U:%G %a' /etc/mssante/mssante.conf
su mssante -s /bin/sh -c 'mssante-db status' >/dev/null; echo "status: $?"
echo "rows: $(su mssante -s /bin/sh -c "psql -qAt -d mssante -c \"SELECT count(*) FROM audit_event WHERE actor = 't31'\"")"
EOF
like($out, qr/^our_domains = ch-exemple\.mssante\.fr$/m, 'the upgrade keeps the edited mssante.conf');
like($out, qr/^dist: 1$/m, 'the new version of the file is beside it, as mssante.conf.dpkg-dist');
like($out, qr/^root:mssante 640$/m, 'and its mode');
like($out, qr/^status: 0$/m, 'the database is as it was: nothing pending');
like($out, qr/^rows: 1$/m, 'and its rows are there');

# ---------------------------------------------------------------- remove, purge
($rc, $out) = in_root(<<'EOF');
apt-get remove -y -q mssante-common mssante-milters mssante-dovecot mssante-annuaire mssante-portal >/dev/null
test -e /usr/sbin/milter-whitelist && echo "program left"
test -f /etc/mssante/mssante.conf && echo "configuration kept"
id mssante >/dev/null && echo "user kept"
EOF
is($rc, 0, 'apt remove') or diag $out;
like($out, qr/^configuration kept$/m, 'remove keeps the configuration');
like($out, qr/^user kept$/m, 'and the user');
unlike($out, qr/^program left$/m, 'the programs are gone');

($rc, $out) = in_root(<<'EOF');
dpkg --purge mssante-common mssante-milters mssante-dovecot mssante-annuaire mssante-portal >/dev/null
id mssante 2>/dev/null && echo "user mssante left"
id mssante-portal 2>/dev/null && echo "user mssante-portal left"
getent group mssante && echo "group mssante left"
rm -f /etc/dovecot/local.conf
find / -xdev \( -path /tmp -o -path /var/cache/apt -o -path /proc \) -prune -o \
    \( -iname '*mssante*' -o -name 'milter-*' -o -name '*annuaire*' -o -name 'liste-blanche*' \) -print
echo "purge: done"
EOF
is($rc, 0, 'apt purge') or diag $out;
like($out, qr/^purge: done$/m, 'purge ran to its end');
unlike($out, qr/left$/m, 'purge removes the users and the group');
my @left = grep { m{^/} } split /\n/, $out;
is_deeply(\@left, [], 'purge leaves no file of the add-on behind') or diag join("\n", @left);

# ---------------------------------------------------------------- piuparts
# Debian's own install/remove/purge tester, in a root of its own from the same base.
# dovecot-core, a dependency, leaves its /etc/dovecot on purge: those files are not counted.
make_path("$dir/piuparts");
($rc, $out, $err) = $sb->command('', 'piuparts', '--basetgz', $base, '--distribution', 'bookworm', '--mirror', $mirror,
                                 '--tmpdir', "$dir/piuparts", '--no-upgrade-test', '--ignore-regex=^/etc/dovecot/', @deb{@parts});
is($rc, 0, 'piuparts: install, remove and purge of the five packages pass')
    or diag join("\n", grep { /ERROR|FAIL/ } split /\n/, "$out$err");

done_testing;
