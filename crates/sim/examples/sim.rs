//! `cargo run --release -p vigil-sim --example sim -- NAME DIR [SEED] [SCALE]`
//! (`NAME` = `list` prints the scenarios, `all` generates every one).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.is_empty() || args[0] == "list" {
        for s in vigil_sim::scenarios() {
            println!(
                "{:<22} home {:<50} {}",
                s.name,
                s.home_nets.join(","),
                s.summary
            );
        }
        if args.is_empty() {
            eprintln!("usage: sim NAME|all|list DIR [SEED] [SCALE]");
        }
        return ExitCode::SUCCESS;
    }
    let Some(dir) = args.get(1).map(PathBuf::from) else {
        eprintln!("usage: sim NAME|all|list DIR [SEED] [SCALE]");
        return ExitCode::from(2);
    };
    let seed = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(1);
    let scale = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(1.0);
    let opts = vigil_sim::SimOptions { seed, scale };
    let names: Vec<&str> = if args[0] == "all" {
        vigil_sim::scenarios().iter().map(|s| s.name).collect()
    } else {
        vec![args[0].as_str()]
    };
    for name in names {
        let t = Instant::now();
        match vigil_sim::generate(name, &dir, &opts) {
            Ok(p) => {
                let size = std::fs::metadata(&p).map(|m| m.len()).unwrap_or(0);
                println!(
                    "{} ({:.1} MB, {:.2} s)",
                    p.display(),
                    size as f64 / 1e6,
                    t.elapsed().as_secs_f64()
                );
            }
            Err(e) => {
                eprintln!("{name}: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    ExitCode::SUCCESS
}
