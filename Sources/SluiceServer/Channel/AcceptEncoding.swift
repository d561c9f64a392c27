/// `Accept-Encoding` negotiation (RFC 9110 §12.5.3), reduced to the one question Sluice asks: may this response be
/// gzip-encoded?
public enum AcceptEncoding {
    /// Whether `header` offers gzip: `gzip` (or `x-gzip`) with a q-value above 0, or `*` above 0 when gzip is not
    /// listed. `gzip;q=0` refuses gzip even when `*` is offered. No header means no gzip (Sluice only encodes when
    /// asked to).
    public static func allowsGzip(_ header: String?) -> Bool {
        guard let header else { return false }
        var gzipQuality: Double?
        var wildcardQuality: Double?
        for member in header.split(separator: ",") {
            let parameters = member.split(separator: ";").map { $0.filter { $0 != " " && $0 != "\t" } }
            guard let coding = parameters.first?.lowercased(), !coding.isEmpty else { continue }
            var quality = 1.0
            for parameter in parameters.dropFirst() {
                let pair = parameter.split(separator: "=", maxSplits: 1)
                if pair.count == 2, pair[0].lowercased() == "q" {
                    quality = Double(pair[1]) ?? 0
                }
            }
            switch coding {
            case "gzip", "x-gzip": gzipQuality = max(gzipQuality ?? 0, quality)
            case "*": wildcardQuality = quality
            default: break
            }
        }
        if let gzipQuality { return gzipQuality > 0 }
        return (wildcardQuality ?? 0) > 0
    }
}
