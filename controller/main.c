/*
 * main.c - the azpool command line (DESIGN.md §10).
 */
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "version") == 0) {
        printf("azpool %s\n", AZPOOL_VERSION);
        return 0;
    }
    fprintf(stderr, "usage: azpool version\n");
    return 1;
}
