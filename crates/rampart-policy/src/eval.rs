//! One evaluation of the decision rule, on a per-thread evaluator.
//!
//! regorus evaluates through `&mut self` (a `RegoVM` keeps registers and rule caches, an
//! `Engine` its interpreter state), so each thread keeps its own evaluator, built once per
//! bundle (keyed by the bundle's process-unique id) and reused for every decision after: no
//! lock, no allocation beyond the input and the result. A thread holds the previous bundle's
//! evaluator until its next decision after a swap.

use std::cell::RefCell;
use std::panic::{AssertUnwindSafe, catch_unwind};

use regorus::rvm::vm::RegoVM;
use regorus::{Engine, Value};

use crate::bundle::{DECISION_ENTRYPOINT, EvalOptions, Evaluator, PolicyBundle};
use crate::error::{regorus_message, source_location};

enum Machine {
    Vm(Box<RegoVM>),
    Interpreter(Box<Engine>),
}

struct ThreadEvaluator {
    bundle_id: u64,
    machine: Machine,
}

thread_local! {
    static EVALUATOR: RefCell<Option<ThreadEvaluator>> = const { RefCell::new(None) };
}

impl ThreadEvaluator {
    fn new(bundle: &PolicyBundle) -> Result<Self, String> {
        let machine = match &bundle.evaluator {
            Evaluator::Vm(program) => {
                let mut vm = RegoVM::new();
                vm.load_program(program.clone());
                vm.set_data(bundle.data.clone()).map_err(|error| error.to_string())?;
                vm.set_max_instructions(bundle.options.max_instructions);
                vm.set_execution_timer_config(Some(bundle.options.timer()));
                Machine::Vm(Box::new(vm))
            }
            Evaluator::Interpreter(template) => {
                let mut engine = Engine::clone(template);
                engine.set_execution_timer_config(bundle.options.timer());
                Machine::Interpreter(Box::new(engine))
            }
        };
        Ok(ThreadEvaluator { bundle_id: bundle.id, machine })
    }

    fn run(&mut self, input: Value) -> Result<Value, String> {
        match &mut self.machine {
            Machine::Vm(vm) => {
                vm.set_input(input);
                vm.execute().map_err(|error| error.to_string())
            }
            Machine::Interpreter(engine) => {
                engine.set_input(input);
                engine.eval_rule(DECISION_ENTRYPOINT.to_owned()).map_err(|error| one_line(&format!("{error:#}")))
            }
        }
    }
}

/// The value of `data.rampart.decision` for `input`, or why there is none. A panic inside
/// regorus is an error too, and its evaluator is thrown away.
pub(crate) fn evaluate(bundle: &PolicyBundle, input: Value) -> Result<Value, String> {
    let in_slot = EVALUATOR.try_with(|slot| {
        let Ok(mut slot) = slot.try_borrow_mut() else {
            return None;
        };
        if slot.as_ref().map(|evaluator| evaluator.bundle_id) != Some(bundle.id) {
            *slot = None;
            match ThreadEvaluator::new(bundle) {
                Ok(evaluator) => *slot = Some(evaluator),
                Err(error) => return Some(Err(error)),
            }
        }
        let evaluator = slot.as_mut()?;
        let result = run_guarded(evaluator, input.clone());
        if result.is_err() {
            // After an error or panic, start the next decision from a clean machine.
            *slot = None;
        }
        Some(result)
    });
    match in_slot {
        Ok(Some(result)) => result,
        // Re-entered from inside an evaluation, or during thread teardown: a one-off evaluator.
        _ => ThreadEvaluator::new(bundle).and_then(|mut evaluator| run_guarded(&mut evaluator, input)),
    }
}

fn run_guarded(evaluator: &mut ThreadEvaluator, input: Value) -> Result<Value, String> {
    catch_unwind(AssertUnwindSafe(|| evaluator.run(input))).unwrap_or_else(|_| Err("regorus panicked".to_owned()))
}

/// A regorus diagnostic as one line for a decision's reason: `file:line: message`.
fn one_line(text: &str) -> String {
    let message = regorus_message(text);
    let message = message.split_whitespace().collect::<Vec<_>>().join(" ");
    match source_location(text) {
        Some((file, line)) => format!("{file}:{line}: {message}"),
        None => message,
    }
}

/// One evaluation on a copy of `engine` (regorus' interpreter), outside the per-thread slots:
/// for the load-time cross-check of the RVM.
pub(crate) fn evaluate_interpreted(engine: &Engine, options: EvalOptions, input: Value) -> Result<Value, String> {
    let mut engine = engine.clone();
    engine.set_execution_timer_config(options.timer());
    engine.set_input(input);
    catch_unwind(AssertUnwindSafe(|| {
        engine.eval_rule(DECISION_ENTRYPOINT.to_owned()).map_err(|error| one_line(&format!("{error:#}")))
    }))
    .unwrap_or_else(|_| Err("regorus panicked".to_owned()))
}
