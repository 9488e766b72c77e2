/* kexec KERNEL INITRD CMDLINE: loads KERNEL with INITRD and CMDLINE through
 * kexec_file_load and boots it at once (reboot with LINUX_REBOOT_CMD_KEXEC),
 * as a guest that replaces its kernel does. Prints what failed and exits 1. */
#include <fcntl.h>
#include <linux/reboot.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: kexec KERNEL INITRD CMDLINE\n");
        return 1;
    }
    int kernel = open(argv[1], O_RDONLY);
    int initrd = open(argv[2], O_RDONLY);
    if (kernel < 0 || initrd < 0) {
        perror("open");
        return 1;
    }
    if (syscall(SYS_kexec_file_load, kernel, initrd, strlen(argv[3]) + 1, argv[3], 0UL) != 0) {
        perror("kexec_file_load");
        return 1;
    }
    printf("kexec: loaded, booting it\n");
    fflush(stdout);
    sync();
    syscall(SYS_reboot, LINUX_REBOOT_MAGIC1, LINUX_REBOOT_MAGIC2, LINUX_REBOOT_CMD_KEXEC, NULL);
    perror("reboot");
    return 1;
}
