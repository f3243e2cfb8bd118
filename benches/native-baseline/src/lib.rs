//! What the plugin benchmark's two sides share: how the runner groups an agent's output lines
//! into the reads it passes to a provider in one call.

/// Largest read the runner passes in one call.
pub const READ: usize = 64 << 10;

/// The lines joined into reads of at most [`READ`] bytes, as the runner passes them.
pub fn reads<S: AsRef<str>>(lines: &[S]) -> Vec<String> {
    let mut reads: Vec<String> = Vec::new();
    for line in lines {
        let line = line.as_ref();
        match reads.last_mut() {
            Some(read) if read.len() + line.len() < READ => {
                read.push('\n');
                read.push_str(line);
            }
            _ => reads.push(line.to_owned()),
        }
    }
    reads
}

#[cfg(test)]
mod tests {
    #[test]
    fn lines_fill_reads_up_to_the_limit() {
        let line = "x".repeat(40 << 10);
        let reads = super::reads(&[line.as_str(), "a", &line]);
        assert_eq!(reads.len(), 2);
        assert_eq!(reads[0].len(), (40 << 10) + 2);
    }
}
