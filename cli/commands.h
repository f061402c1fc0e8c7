// The subcommands of the attnlab executable, all but gradcheck (cli/gradcheck_command.h).
// train, eval, predict, tasks and baseline are defined in cli/commands.cpp, each other one in
// cli/<name>_command.cpp; cli/main.cpp dispatches to them.
#pragma once

namespace attnlab {

int train_command(int argc, char** argv);
int eval_command(int argc, char** argv);
int predict_command(int argc, char** argv);
int tasks_command(int argc, char** argv);
int baseline_command(int argc, char** argv);
int plot_command(int argc, char** argv);
int trace_command(int argc, char** argv);
int describe_command(int argc, char** argv);
int compare_command(int argc, char** argv);
int generate_command(int argc, char** argv);
int ablate_command(int argc, char** argv);
int lens_command(int argc, char** argv);
int patch_command(int argc, char** argv);

}  // namespace attnlab
