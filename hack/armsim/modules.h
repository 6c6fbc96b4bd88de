/*
 * modules.h - the armsim modules linked into the binary, as an X-macro list.
 *
 * Each line names a module init function `void NAME(struct armsim *sim)`; armsim_new() calls
 * them in this order after the framework's own routes are registered. Adding a line here is
 * what makes the linker pull the module's object out of libarmsim.a. Add your line in the same
 * commit as your sim_<area>.c file.
 */
ARMSIM_MODULE(sim_entra_init)
ARMSIM_MODULE(sim_resources_init)
ARMSIM_MODULE(sim_compute_init)
ARMSIM_MODULE(sim_admin_init)
ARMSIM_MODULE(sim_gallery_init)
ARMSIM_MODULE(sim_imagebuilder_init)
ARMSIM_MODULE(sim_automation_init)
ARMSIM_MODULE(sim_eventgrid_init)
