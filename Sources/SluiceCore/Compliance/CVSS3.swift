import Foundation

/// The CVSS v3.0/v3.1 base score of a vector such as `CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H` (7.5), computed
/// with the specification's formula (FIRST, CVSS v3.1 specification, section 7.1 and appendix A).
public enum CVSS3 {
    /// The base score, 0.0...10.0, rounded up to one decimal as the specification says (v3.1's `Roundup`, which
    /// avoids floating-point surprises; v3.0 vectors use v3.0's plain ceiling).
    ///
    /// Temporal and environmental metrics in the vector are accepted and ignored.
    /// - Throws: `SluiceError.invalidInput` when the prefix is not `CVSS:3.0`/`CVSS:3.1`, a base metric is missing,
    ///   repeated or has an unknown value.
    public static func baseScore(vector: String) throws(SluiceError) -> Double {
        let parts = vector.trimmingCharacters(in: .whitespaces).split(separator: "/").map(String.init)
        guard let prefix = parts.first, prefix == "CVSS:3.0" || prefix == "CVSS:3.1" else {
            throw .invalidInput("'\(vector)' is not a CVSS v3 vector (it must start with CVSS:3.0/ or CVSS:3.1/).")
        }
        var metrics: [String: String] = [:]
        for part in parts.dropFirst() {
            let pair = part.split(separator: ":", maxSplits: 1).map(String.init)
            guard pair.count == 2 else {
                throw .invalidInput("The CVSS vector '\(vector)' has a malformed metric '\(part)'.")
            }
            guard metrics.updateValue(pair[1], forKey: pair[0]) == nil else {
                throw .invalidInput("The CVSS vector '\(vector)' repeats the metric \(pair[0]).")
            }
        }
        func weight(_ metric: String, _ table: [String: Double]) throws(SluiceError) -> Double {
            guard let value = metrics[metric] else {
                throw .invalidInput("The CVSS vector '\(vector)' lacks the base metric \(metric).")
            }
            guard let weight = table[value] else {
                throw .invalidInput("The CVSS vector '\(vector)' has an unknown value \(metric):\(value).")
            }
            return weight
        }
        let scopeChanged = try weight("S", ["U": 0, "C": 1]) == 1
        let attackVector = try weight("AV", ["N": 0.85, "A": 0.62, "L": 0.55, "P": 0.2])
        let attackComplexity = try weight("AC", ["L": 0.77, "H": 0.44])
        let privileges = try weight(
            "PR", scopeChanged ? ["N": 0.85, "L": 0.68, "H": 0.5] : ["N": 0.85, "L": 0.62, "H": 0.27])
        let userInteraction = try weight("UI", ["N": 0.85, "R": 0.62])
        let impactWeights: [String: Double] = ["H": 0.56, "L": 0.22, "N": 0]
        let confidentiality = try weight("C", impactWeights)
        let integrity = try weight("I", impactWeights)
        let availability = try weight("A", impactWeights)

        let impactSubScore = 1 - (1 - confidentiality) * (1 - integrity) * (1 - availability)
        let impact =
            scopeChanged
            ? 7.52 * (impactSubScore - 0.029) - 3.25 * pow(impactSubScore - 0.02, 15)
            : 6.42 * impactSubScore
        let exploitability = 8.22 * attackVector * attackComplexity * privileges * userInteraction
        guard impact > 0 else { return 0 }
        let sum = scopeChanged ? 1.08 * (impact + exploitability) : impact + exploitability
        let roundUp = prefix == "CVSS:3.1" ? roundUp31 : roundUp30
        return roundUp(min(sum, 10))
    }

    /// v3.1 appendix A: the smallest one-decimal number ≥ the input, computed on integers.
    static func roundUp31(_ value: Double) -> Double {
        let integer = Int((value * 100_000).rounded())
        if integer % 10_000 == 0 { return Double(integer) / 100_000 }
        return Double(integer / 10_000 + 1) / 10
    }

    /// v3.0: the ceiling to one decimal.
    static func roundUp30(_ value: Double) -> Double {
        (value * 10).rounded(.up) / 10
    }
}
