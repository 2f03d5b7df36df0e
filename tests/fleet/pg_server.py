"""A throwaway PostgreSQL server for the fleet tests and benchmark: initdb and pg_ctl from
Debian's /usr/lib/postgresql/<version>/bin in a temporary directory, listening on a Unix socket
in that directory only (no TCP, no system service). PostgreSQL refuses to run as root, so when
the tests run as root (CI) the server runs as an unprivileged user ('nobody') that owns the
directory; clients connect over the socket as the database's superuser 'postgres' (trust
authentication, local socket only)."""
import glob
import os
import pwd
import shutil
import subprocess
import tempfile


def find_bin():
    """The newest installed server's bin directory, or None."""
    dirs = sorted(glob.glob('/usr/lib/postgresql/*/bin/initdb'),
                  key=lambda p: int(p.split('/')[4]) if p.split('/')[4].isdigit() else 0)
    return os.path.dirname(dirs[-1]) if dirs else None


class Server:
    def __init__(self, bindir, port=5432):
        self.bin = bindir
        self.port = port
        self.dir = tempfile.mkdtemp(prefix='smart-fleet-pg-')
        self.data = os.path.join(self.dir, 'data')
        self.run_as = []
        if os.geteuid() == 0:
            user = pwd.getpwnam('nobody')
            os.chown(self.dir, user.pw_uid, user.pw_gid)
            self.run_as = ['runuser', '-u', 'nobody', '--']
        self._pg([os.path.join(self.bin, 'initdb'), '-D', self.data, '-E', 'UTF8',
                  '--locale=C', '-U', 'postgres', '-A', 'trust', '--no-sync'])
        self.start()

    def _pg(self, argv):
        r = subprocess.run(self.run_as + argv, cwd=self.dir, capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError('%s failed (%d): %s%s' % (argv[0], r.returncode, r.stdout,
                                                        r.stderr))
        return r

    def start(self):
        opts = "-k %s -c listen_addresses='' -p %d -c fsync=off -c max_connections=60" % (
            self.dir, self.port)
        self._pg([os.path.join(self.bin, 'pg_ctl'), '-D', self.data, '-l',
                  os.path.join(self.dir, 'log'), '-o', opts, '-w', 'start'])

    def stop(self, mode='fast'):
        self._pg([os.path.join(self.bin, 'pg_ctl'), '-D', self.data, '-m', mode, '-w', 'stop'])

    def url(self, user='postgres', db='fleet'):
        return 'postgresql://%s@/%s?host=%s&port=%d' % (user, db, self.dir, self.port)

    def psql(self, sql, user='postgres', db='fleet', check=True):
        """Run `sql`; returns (returncode, stdout rows as lists, stderr)."""
        r = subprocess.run([os.path.join(self.bin, 'psql'), '-X', '-q', '-A', '-t', '-F', '|',
                            '-v', 'ON_ERROR_STOP=1', self.url(user, db), '-c', sql],
                           capture_output=True, text=True)
        if check and r.returncode != 0:
            raise RuntimeError('psql %r: %s' % (sql, r.stderr))
        rows = [line.split('|') for line in r.stdout.splitlines() if line]
        return r.returncode, rows, r.stderr

    def close(self):
        try:
            self.stop('immediate')
        except RuntimeError:
            pass
        shutil.rmtree(self.dir, ignore_errors=True)


def run_test(prefix, run, failures):
    """A fleet test's main: a server of its own and a work directory (`prefix`), `run(pg, work)`,
    both removed whatever happens. Returns the exit status: 77 (skipped) without the server's
    binaries, else 1 when `failures` (the test's list) holds any, else 0."""
    bindir = find_bin()
    if bindir is None:
        print('SKIP: no PostgreSQL server binaries (/usr/lib/postgresql/*/bin/initdb); '
              'install Debian\'s postgresql (.ci/install-deps.sh does)')
        return 77
    work = tempfile.mkdtemp(prefix=prefix)
    pg = Server(bindir)
    try:
        run(pg, work)
    finally:
        pg.close()
        shutil.rmtree(work, ignore_errors=True)
    print('%d failure(s)' % len(failures))
    return 1 if failures else 0
