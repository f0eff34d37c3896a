// Series names; see series_naming.h.
#include "reports/series_naming.h"

#include <algorithm>
#include <cctype>

namespace attnlab::reports {

std::vector<CaseRef> select_cases(const std::vector<ResultsFile>& files,
                                  const std::function<bool(const ResultCase&)>& keep) {
  std::vector<CaseRef> out;
  for (const ResultsFile& f : files)
    for (const ResultCase& c : f.cases)
      if (keep(c)) out.push_back({&f, &c});
  return out;
}

std::string variant_name(const ResultCase& c) {
  std::string kind = c.attention();
  std::transform(kind.begin(), kind.end(), kind.begin(),
                 [](unsigned char ch) { return static_cast<char>(std::toupper(ch)); });
  return c.impl() == "standard" ? kind : kind + " " + c.impl();
}

SeriesNamer::SeriesNamer(const std::vector<CaseRef>& cases) : cases_(cases) {
  if (cases_.empty()) return;
  first_ = &cases_.front();
  const ResultCase& a = *first_->c;
  for (const CaseRef& r : cases_) {
    files_ = files_ || r.file != first_->file;
    backend_ = backend_ || r.c->backend() != a.backend();
    dtype_ = dtype_ || r.c->dtype() != a.dtype();
    batch_ = batch_ || r.c->batch() != a.batch();
    threads_ = threads_ || r.c->threads() != a.threads();
  }
}

std::string SeriesNamer::key(const CaseRef& r) const {
  const ResultCase& c = *r.c;
  return r.file->label + "|" + c.phase() + "|" + c.model() + "|" + c.impl() + "|" + c.backend() +
         "|" + c.dtype() + "|" + std::to_string(c.batch()) + "|" + std::to_string(c.threads());
}

std::string SeriesNamer::name(const CaseRef& r) const {
  const ResultCase& c = *r.c;
  std::string n = c.model() + " " + variant_name(c);
  if (backend_) n += " " + c.backend();
  if (dtype_) n += " " + c.dtype();
  if (batch_) n += " b" + std::to_string(c.batch());
  if (threads_) n += " t" + std::to_string(c.threads());
  if (files_) n = r.file->label + " " + n;
  return n;
}

std::string SeriesNamer::shared() const {
  if (!first_) return "";
  const ResultCase& a = *first_->c;
  std::vector<std::string> parts;
  if (!backend_) parts.push_back("backend " + a.backend());
  if (!dtype_) parts.push_back(a.dtype() + " KV cache");
  if (!batch_) parts.push_back("batch " + std::to_string(a.batch()));
  if (!threads_)
    parts.push_back(std::to_string(a.threads()) + (a.threads() == 1 ? " thread" : " threads"));
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) out += (i ? ", " : "") + parts[i];
  return out;
}

}  // namespace attnlab::reports
