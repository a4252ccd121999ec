# Reads a HotSpot -XX:+LogCompilation file; prints each call from C2-compiled code to a method of
# io.sparkrnn that takes or returns a vector, mask or shuffle and that C2 left out of line (they then cross
# the call as Java objects): compile id, the compiled method, the callee, C2's reason.
function attr(line, key,   m) {
  if (match(line, key "='[^']*'")) { m = substr(line, RSTART + length(key) + 2, RLENGTH - length(key) - 3); return m }
  return ""
}
/^<task / { c2 = (attr($0, "level") == ""); root = attr($0, "method"); sub(/ /, ".", root); sub(/ .*/, "", root); id = attr($0, "compile_id"); delete name; delete vec; delete mname; last = ""; next }
/^<type / || /^<klass / { name[attr($0, "id")] = attr($0, "name"); next }
/^<method / {
  m = attr($0, "id"); mname[m] = name[attr($0, "holder")] "." attr($0, "name")
  n = split(attr($0, "arguments") " " attr($0, "return"), t, " "); v = 0
  for (i = 1; i <= n; i++) if (name[t[i]] ~ /^jdk[.\/]incubator[.\/]vector[.\/][A-Za-z0-9$]*(Vector|Mask|Shuffle)$/) v = 1
  vec[m] = v; next
}
/^<call / { last = attr($0, "method"); next }
/^<inline_fail / { if (c2 && vec[last] && mname[last] ~ /^io[.\/]sparkrnn/) print id, root, mname[last], attr($0, "reason"); next }
