package OtpWorld;
# OtpWorld - many accounts with a confirmed TOTP enrolment and a device
# password each, and a sandbox Dovecot authenticating them with
# mssante_otp: for the load test and the benchmark.
use strict;
use warnings;
use Carp;
use Sandbox;

our $PASSWORD = 'Mot-de-passe-commun';

# setup - ($dovecot, [ {login, secret, device}, ... ]) for n accounts
sub setup {
    my ($sb, %o) = @_;
    my $dir = $sb->dir;
    my ($pg, $conf) = $sb->migrated;
    Sandbox::write_file($conf, Sandbox::slurp($conf) . "otp_key_file = $dir/otp.key\n");
    Sandbox::run($sb->bin('mssante-otp'), '-c', $conf, 'key');
    my $acct = accounts($sb, $conf, $o{n} || 100);
    my $dc = $sb->dovecot(%{ $o{dovecot} || {} },
                          auth_modules => [$sb->build . '/dovecot/auth/libauthdb_mssante_otp.so'],
                          passdb => "  driver = mssante_otp\n  args = $conf");
    return ($dc, $acct);
}

# accounts - n accounts medecin.NNNN with $PASSWORD, a BAL each, a confirmed
# TOTP enrolment and a device password (otp_key_file exists): [ {login, secret, device} ]
sub accounts {
    my ($sb, $conf, $n) = @_;
    my ($pg) = $sb->migrated;
    my $otp = $sb->bin('mssante-otp');
    chomp(my $hash = Sandbox::run('doveadm', 'pw', '-s', 'SHA512-CRYPT', '-p', $PASSWORD));
    my @logins = map { sprintf 'medecin.%04d', $_ } 1 .. $n;
    $pg->{psql}->(join ';',
        "INSERT INTO account (login, password) SELECT 'medecin.' || lpad(g::text, 4, '0'), '$hash' FROM generate_series(1, $n) g",
        "INSERT INTO bal (address) SELECT login || '\@a.mssante.test' FROM account WHERE login LIKE 'medecin.%'",
        "INSERT INTO bal_access SELECT id, login || '\@a.mssante.test', 'owner' FROM account WHERE login LIKE 'medecin.%'");
    my @acct;
    for my $login (@logins) {
        my ($secret) = Sandbox::run($otp, '-c', $conf, 'enroll', $login, '--totp') =~ /secret=([A-Z2-7]+)/
            or croak "enroll $login: no secret";
        my ($device) = Sandbox::run($otp, '-c', $conf, 'device', 'add', $login, 'client') =~ /^(d\d+-\S+)$/m
            or croak "device add $login: no password";
        push @acct, { login => $login, secret => $secret, device => $device };
    }
    # Confirmed as "mssante-otp verify" would (the codes themselves are for the logins).
    $pg->{psql}->("UPDATE otp_secret SET confirmed = true; UPDATE account SET otp_method = 'totp' WHERE login LIKE 'medecin.%'");
    return \@acct;
}

# code - the current TOTP code of a base32 secret (oathtool)
sub code {
    my ($secret) = @_;
    return code_at($secret, time);
}

# next_code - a code of the secret not used yet: the step after *$step (the
# last one used), or the current one if that is later; waits when the step
# is not due yet (a code is good from one step early). Updates *$step.
sub next_code {
    my ($secret, $step) = @_;
    $$step = $$step + 1 > int(time / 30) ? $$step + 1 : int(time / 30);
    select(undef, undef, undef, 0.5) while int(time / 30) + 1 < $$step;
    return code_at($secret, $$step * 30);
}

# code_at - the TOTP code of a secret at a given time
sub code_at {
    my ($secret, $t) = @_;
    my $c = qx{oathtool --totp -b --now \@@{[ int $t ]} $secret};
    chomp $c;
    return $c;
}

1;
