//! Which of a classifier's labels count as a hit.
//!
//! Published injection classifiers name their labels differently: Prompt Guard has `BENIGN`,
//! `INJECTION` and `JAILBREAK`; Llama Prompt Guard 2 `LABEL_0` / `LABEL_1`; ProtectAI's
//! `SAFE` / `INJECTION`. An operator can name the labels; otherwise every label that does not
//! read as benign counts, so a three-way model scores injection and jailbreak together.

use std::collections::BTreeMap;

/// Label names that mean "nothing found" (compared in lower case).
const BENIGN: &[&str] = &["benign", "safe", "legit", "legitimate", "negative", "normal", "clean", "neutral", "label_0"];

/// The labels in output order, from `config.json`'s `id2label` (keys are the indices, as
/// text). Without one, transformers names `num_labels` (default 2) labels `LABEL_0`, ….
pub(super) fn in_order(
    id2label: Option<&BTreeMap<String, String>>,
    num_labels: Option<usize>,
) -> Result<Vec<String>, String> {
    let Some(id2label) = id2label.filter(|map| !map.is_empty()) else {
        let count = num_labels.unwrap_or(2);
        if count < 2 {
            return Err(format!("num_labels is {count}: a classifier needs at least two labels"));
        }
        return Ok((0..count).map(|index| format!("LABEL_{index}")).collect());
    };
    let mut labels = vec![None; id2label.len()];
    for (key, label) in id2label {
        let index: usize = key.parse().map_err(|_| format!("id2label key \"{key}\" is not an index"))?;
        let slot = labels
            .get_mut(index)
            .ok_or_else(|| format!("id2label has {} labels but names index {index}", id2label.len()))?;
        *slot = Some(label.clone());
    }
    if labels.len() < 2 {
        return Err("id2label names one label: a classifier needs at least two".to_owned());
    }
    Ok(labels.into_iter().map(|label| label.unwrap_or_default()).collect())
}

/// The indices of the labels that make the score: those `wanted` names (any case), or with
/// none named, every label that is not benign.
pub(super) fn positive(labels: &[String], wanted: &[String]) -> Result<Vec<usize>, String> {
    let listed = || labels.join(", ");
    if !wanted.is_empty() {
        return wanted
            .iter()
            .map(|name| {
                labels
                    .iter()
                    .position(|label| label.eq_ignore_ascii_case(name))
                    .ok_or_else(|| format!("the model has no label \"{name}\"; its labels are: {}", listed()))
            })
            .collect();
    }
    let positive: Vec<usize> =
        (0..labels.len()).filter(|&index| !BENIGN.contains(&labels[index].to_ascii_lowercase().as_str())).collect();
    if positive.is_empty() || positive.len() == labels.len() {
        return Err(format!(
            "cannot tell which of the model's labels ({}) mean an injection: name them in \
             [guardrails.injection_classifier] labels",
            listed()
        ));
    }
    Ok(positive)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(key, value)| ((*key).to_owned(), (*value).to_owned())).collect()
    }

    fn strings(names: &[&str]) -> Vec<String> {
        names.iter().map(|name| (*name).to_owned()).collect()
    }

    #[test]
    fn published_label_sets_are_read_without_configuration() {
        let prompt_guard =
            in_order(Some(&map(&[("0", "BENIGN"), ("1", "INJECTION"), ("2", "JAILBREAK")])), None).unwrap();
        assert_eq!(positive(&prompt_guard, &[]).unwrap(), vec![1, 2]);
        let protectai = in_order(Some(&map(&[("1", "INJECTION"), ("0", "SAFE")])), None).unwrap();
        assert_eq!(protectai, strings(&["SAFE", "INJECTION"]));
        assert_eq!(positive(&protectai, &[]).unwrap(), vec![1]);
        let unnamed = in_order(None, None).unwrap();
        assert_eq!(positive(&unnamed, &[]).unwrap(), vec![1]);
    }

    #[test]
    fn named_labels_are_matched_in_any_case_and_unknown_ones_are_listed() {
        let labels = strings(&["BENIGN", "INJECTION", "JAILBREAK"]);
        assert_eq!(positive(&labels, &strings(&["jailbreak"])).unwrap(), vec![2]);
        let error = positive(&labels, &strings(&["MALICIOUS"])).unwrap_err();
        assert!(error.contains("no label \"MALICIOUS\"") && error.contains("BENIGN, INJECTION, JAILBREAK"), "{error}");
    }

    #[test]
    fn labels_that_cannot_be_told_apart_ask_for_configuration() {
        let error = positive(&strings(&["toxic", "spam"]), &[]).unwrap_err();
        assert!(error.contains("labels"), "{error}");
        assert!(in_order(Some(&map(&[("0", "A"), ("5", "B")])), None).unwrap_err().contains("index 5"));
        assert!(in_order(Some(&map(&[("x", "A"), ("1", "B")])), None).unwrap_err().contains("\"x\""));
        assert!(in_order(None, Some(1)).is_err());
    }
}
