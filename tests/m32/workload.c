/*
 * A 32-bit program (built with gcc -m32 by tests/live_coverage.rs): the syscalls of an
 * ia32 glibc, not hand-made int 0x80 calls. Opens a file and writes 3 x 100 bytes,
 * connects to 127.0.0.1:<port> and writes 50 bytes, then execs /bin/true. Reports what
 * it did as key=value lines on stdout.
 *
 * usage: workload <dir> <port>
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void fail(const char *what)
{
	perror(what);
	exit(1);
}

int main(int argc, char **argv)
{
	if (argc != 3)
		return 2;
	char path[4096], buf[100];
	snprintf(path, sizeof(path), "%s/m32.bin", argv[1]);
	memset(buf, 'm', sizeof(buf));

	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		fail("open");
	for (int i = 0; i < 3; i++)
		if (write(fd, buf, 100) != 100)
			fail("write");
	close(fd);

	int s = socket(AF_INET, SOCK_STREAM, 0);
	if (s < 0)
		fail("socket");
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(atoi(argv[2])) };
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(s, (struct sockaddr *)&a, sizeof(a)))
		fail("connect");
	struct sockaddr_in l;
	socklen_t ll = sizeof(l);
	if (getsockname(s, (struct sockaddr *)&l, &ll))
		fail("getsockname");
	if (write(s, buf, 50) != 50)
		fail("send");
	close(s);

	printf("\npid=%d\nbits=%d\nfile=%s\nfile_fd=%d\nsock_fd=%d\ncport=%d\nEND\n", getpid(),
	       (int)(8 * sizeof(void *)), path, fd, s, ntohs(l.sin_port));
	fflush(stdout);
	execl("/bin/true", "true", (char *)NULL);
	fail("exec");
}
