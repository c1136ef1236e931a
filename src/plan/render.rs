//! The plan as text (the migration-plan shape DBAs review, in Markdown) and as one JSON object (the same
//! fields, for CI and review bots). Pure: what is rendered is exactly the `Plan`.

use super::findings::Strategy;
use super::report::{human_seconds, Plan};

pub(crate) fn json(p: &Plan) -> String {
    serde_json::to_string_pretty(p).unwrap_or_else(|e| format!("{{\"error\": \"cannot encode the plan: {e}\"}}"))
}

pub(crate) fn text(p: &Plan) -> String {
    let mut s = String::new();
    let strategy = match p.strategy {
        Strategy::Instant => "INSTANT",
        Strategy::Inplace => "INPLACE",
        Strategy::Copy => "ghost copy (wraith migrate)",
    };
    s.push_str(&format!("## Migration: {}.{}: {}\n", p.database, p.table, p.alter));
    s.push_str(&format!("**Strategy:** {strategy}\n"));
    let lock =
        if p.lock.seconds > 0.0 { format!("at most {} s per attempt: ", p.lock.seconds) } else { "a moment: ".into() };
    s.push_str(&format!("**Estimated lock time on prod:** {lock}{}\n", p.lock.blocks));
    let c = &p.copy;
    let time = match (p.strategy, c.seconds) {
        (Strategy::Instant, _) => "none (no copy)".to_string(),
        (_, Some(sec)) => human_seconds(sec),
        (_, None) => "unknown".to_string(),
    };
    let rate = c.rate_rows_per_s.map_or("rate not measured".into(), |r| format!("{r:.0} rows/s measured"));
    s.push_str(&format!("**Estimated backfill time:** {time} ({} rows, {}, {rate})\n", c.rows, c.bytes_text()));
    s.push_str(&format!("  assumptions: {}\n", c.assumptions));
    s.push_str(&format!("**Reversible:** {} ({})\n", p.reversible, p.reversible_why));
    s.push_str("\n### Findings\n");
    if p.findings.is_empty() {
        s.push_str("none\n");
    }
    for f in &p.findings {
        s.push_str(&format!("- **{}** `{}`: {}\n", f.severity, f.code, f.message));
        if !f.evidence.is_empty() {
            s.push_str(&format!("  evidence: {}\n", f.evidence));
        }
    }
    if !p.steps.is_empty() {
        s.push_str("\n### Expand/contract steps\n");
        for (i, step) in p.steps.iter().enumerate() {
            s.push_str(&format!("{}. {step}\n", i + 1));
        }
    }
    s.push_str(&format!("\n### Command\n```sh\n{}\n```\n", p.command));
    s.push_str(&format!("\n### Verification\n```sql\n{}\n```\n", p.verification_sql));
    s.push_str("\n### Rollback\n");
    for (i, r) in p.rollback.iter().enumerate() {
        s.push_str(&format!("{}. {r}\n", i + 1));
    }
    if p.blocked() {
        s.push_str("\nBLOCKED: a finding above says the change cannot succeed as given.\n");
    }
    s
}
