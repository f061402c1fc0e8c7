// The subcommands of the attnlab executable (train/cli/main.cpp dispatches).
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

}  // namespace attnlab
