package fluxj.server;

import fluxj.memory.WeightDtype;

/**
 * Settings of the server applied to every job.
 *
 * @param memoryBudget bytes the engine may use; 0 = the machine's default
 * @param weightDtype  how to hold the transformer's weights; null = as the memory plan decides
 */
public record ServeSettings(long memoryBudget, WeightDtype weightDtype) {}
