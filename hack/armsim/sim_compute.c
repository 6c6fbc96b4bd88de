#include "armsim_int.h"
void sim_compute_init(struct armsim *sim)
{
    (void)sim;
}
