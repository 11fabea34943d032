"""The AWS Price List Query API's GetProducts, which moto does not have, for the strict layer.

moto answers every Pricing call with 404 "Not yet implemented". In-process (mock_aws) requests for
the Price List endpoints are routed here (`install`); this answers GetProducts as AWS does, from a
catalog the test or bench fills with `set_price`:

- JSON 1.1 protocol, target AWSPriceListService.GetProducts (botocore model pricing 2017-10-15);
- response {"FormatVersion": "aws_v1", "PriceList": [<JSON string>, ...], "NextToken": ...}:
  each PriceList item is a JSON *string* (PriceListJsonItems: SynthesizedJsonPriceListJsonItem),
  a product in the Price List's offer-file shape: product.{productFamily, attributes, sku},
  serviceCode, terms.OnDemand.<sku>.<offerTermCode>.priceDimensions.<rateCode>.{unit "Hrs",
  pricePerUnit.USD as a decimal string}, terms.Reserved, version, publicationDate (Billing User
  Guide, "Reading the price list files" / "Service price list files for AWS services");
- filters: TERM_MATCH, EQUALS, CONTAINS, ANY_OF and NONE_OF (comma-separated values, each Value
  at most 1024 characters), all must match (AWS Billing and Cost Management API Reference,
  pricing Filter); MaxResults 1-100 (botocore model GetProductsMaxResults), default 100 here;
- quota: a token bucket of 10 GetProducts refilled at 5 a second per account; beyond it
  ThrottlingException (Billing User Guide, "Using the AWS Price List Query API", Quotas);
- endpoints: api.pricing.{us-east-1, eu-central-1, ap-south-1}.amazonaws.com (same page);
- Spot is not in the Price List (Billing User Guide, "Calling AWS services and prices using the
  AWS Price List"): only on-demand and reserved terms are listed;
- SageMaker (ServiceCode AmazonSageMaker, `set_sagemaker_price`): productFamily "ML Instance",
  the type in `instanceName` (and `instanceType`), the component that bills in
  `platoinstancetype` ("Notebook", "Hosting", "Training", ...), `usagetype`
  "<region prefix>-<usage>:<type>" (e.g. "USE1-Train:ml.m4.16xlarge"), operation "RunInstance",
  on-demand terms only (SageMaker's commitments are Savings Plans, a separate offer). Sources:
  AWS's SageMaker pricing sample (GetProducts on productFamily "ML Instance", instanceName,
  platoinstancetype "Hosting"), vantage-sh/ec2instances.info sagemaker.py (the offer file's
  attributes and platoinstancetype values, a Savings Plan rate naming "USE1-Train:ml.m4.16xlarge").
  The hardware attributes (vCpu, memory, physicalGpu, ...) are left out;
- Fargate (ServiceCode AmazonECS, `set_fargate_price`): productFamily "Compute", usagetype
  "<region prefix>-Fargate-vCPU-Hours:perCPU" and "-Fargate-GB-Hours" (x86 on demand), beside
  the region's ARM ("-Fargate-ARM-...") and Spot ("-SpotUsage:Fargate-...") rates, unit "hours"
  (infracost-style estimates and public price scrapers name the same usage types).

UNCERTAIN, kept simple: the real API's TERM_MATCH is matched exactly here (AWS may fold case),
and NextToken is an opaque offset; SageMaker's `instanceType` may carry a suffix in the offer
file (vantage-sh splits it on "-"), so the guard filters on `instanceName`, set to the bare type
here, as `instanceType` is; the usage names other than "Train" ("Notebk", "Host") are guesses.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from moto.core.botocore_stubber import BotocoreStubber

from strict_aws.active import current
from strict_aws.patches import Patches

ENDPOINT_REGIONS = ("us-east-1", "eu-central-1", "ap-south-1")
BUCKET_SIZE = 10.0
REFILL_PER_S = 5.0
FILTER_TYPES = ("TERM_MATCH", "EQUALS", "CONTAINS", "ANY_OF", "NONE_OF")
EC2 = "AmazonEC2"
SAGEMAKER = "AmazonSageMaker"
ECS = "AmazonECS"
ML_FAMILY = "ML Instance"
# platoinstancetype -> the usage name in its usagetype ("Train" seen in the offer; the others
# UNCERTAIN) and the AWS usage-type prefix of each Region.
SAGEMAKER_USAGE = {"Notebook": "Notebk", "Hosting": "Host", "Training": "Train"}
USAGE_PREFIXES = {
    "us-east-1": "USE1",
    "us-east-2": "USE2",
    "us-west-1": "USW1",
    "us-west-2": "USW2",
    "ca-central-1": "CAN1",
    "sa-east-1": "SAE1",
    "eu-west-1": "EU",
    "eu-west-2": "EUW2",
    "eu-west-3": "EUW3",
    "eu-central-1": "EUC1",
    "eu-north-1": "EUN1",
    "ap-northeast-1": "APN1",
    "ap-northeast-2": "APN2",
    "ap-northeast-3": "APN3",
    "ap-south-1": "APS3",
    "ap-southeast-1": "APS1",
    "ap-southeast-2": "APS2",
}
ON_DEMAND_OFFER = "JRTCKXETXF"  # the Price List's on-demand offer term code
HOURLY_RATE = "6YS6EN2CT7"  # its hourly rate code
RESERVED_OFFER = "4NA7Y494T4"  # a 1-year no-upfront reserved term, for the shape
LOCATIONS = {
    "us-east-1": "US East (N. Virginia)",
    "us-east-2": "US East (Ohio)",
    "us-west-1": "US West (N. California)",
    "us-west-2": "US West (Oregon)",
    "ca-central-1": "Canada (Central)",
    "sa-east-1": "South America (Sao Paulo)",
    "eu-west-1": "EU (Ireland)",
    "eu-west-2": "EU (London)",
    "eu-west-3": "EU (Paris)",
    "eu-central-1": "EU (Frankfurt)",
    "eu-north-1": "EU (Stockholm)",
    "ap-northeast-1": "Asia Pacific (Tokyo)",
    "ap-northeast-2": "Asia Pacific (Seoul)",
    "ap-northeast-3": "Asia Pacific (Osaka)",
    "ap-south-1": "Asia Pacific (Mumbai)",
    "ap-southeast-1": "Asia Pacific (Singapore)",
    "ap-southeast-2": "Asia Pacific (Sydney)",
}


def is_price_list_url(url: str) -> bool:
    return any(f"://api.pricing.{region}.amazonaws.com" in url for region in ENDPOINT_REGIONS)


@dataclass(frozen=True)
class _Product:
    sku: str
    attributes: dict[str, str]
    usd_per_hour: float
    service_code: str = EC2

    @property
    def key(self) -> tuple[str, str, str, str]:
        a = self.attributes
        if self.service_code == ECS:
            return ECS, a["usagetype"], a["regionCode"], ""
        if self.service_code == SAGEMAKER:
            return SAGEMAKER, a["instanceName"], a["regionCode"], a["platoinstancetype"]
        return EC2, a["instanceType"], a["regionCode"], a["tenancy"]

    @property
    def fields(self) -> dict[str, str]:
        """What a filter may name: the attributes and the product family (productFamily)."""
        return {**self.attributes, "productFamily": self.family}

    @property
    def family(self) -> str:
        if self.service_code == ECS:
            return "Compute"
        if self.service_code == SAGEMAKER:
            return ML_FAMILY
        # The Price List files bare-metal types apart (aws/aws-parallelcluster#1292,
        # infracost/infracost#3471: "*.metal" under "Compute Instance (bare metal)").
        metal = self.attributes["instanceType"].endswith(".metal")
        return "Compute Instance (bare metal)" if metal else "Compute Instance"

    def to_json(self) -> str:
        on_demand = f"{self.sku}.{ON_DEMAND_OFFER}"
        terms: dict[str, Any] = {"OnDemand": {on_demand: self._on_demand_term(on_demand)}}
        if self.service_code == EC2:
            terms["Reserved"] = self._reserved_terms()
        return json.dumps(
            {
                "product": {
                    "productFamily": self.family,
                    "attributes": self.attributes,
                    "sku": self.sku,
                },
                "serviceCode": self.service_code,
                "terms": terms,
                "version": "20260101000000",
                "publicationDate": "2026-01-01T00:00:00Z",
            }
        )

    def _describe(self) -> str:
        a = self.attributes
        if self.service_code == ECS:
            return f"AWS Fargate - {a['usagetype']} - {a['location']}"
        if self.service_code == SAGEMAKER:
            return f"${self.usd_per_hour:.4f} per {a['platoinstancetype']} {a['instanceName']} hour"
        return f"${self.usd_per_hour:.4f} per On Demand Linux {a['instanceType']} Instance Hour"

    def _on_demand_term(self, on_demand: str) -> dict[str, Any]:
        return {
            "priceDimensions": {
                f"{on_demand}.{HOURLY_RATE}": {
                    "unit": "hours" if self.service_code == ECS else "Hrs",
                    "endRange": "Inf",
                    "description": self._describe(),
                    "appliesTo": [],
                    "rateCode": f"{on_demand}.{HOURLY_RATE}",
                    "beginRange": "0",
                    "pricePerUnit": {"USD": f"{self.usd_per_hour:.10f}"},
                }
            },
            "sku": self.sku,
            "effectiveDate": "2026-01-01T00:00:00Z",
            "offerTermCode": ON_DEMAND_OFFER,
            "termAttributes": {},
        }

    def _reserved_terms(self) -> dict[str, Any]:
        """A 1-year no-upfront reserved term, for the shape (EC2 only)."""
        reserved = f"{self.sku}.{RESERVED_OFFER}"
        return {
            reserved: {
                "priceDimensions": {
                    f"{reserved}.{HOURLY_RATE}": {
                        "unit": "Hrs",
                        "endRange": "Inf",
                        "description": "reserved rate",
                        "appliesTo": [],
                        "rateCode": f"{reserved}.{HOURLY_RATE}",
                        "beginRange": "0",
                        "pricePerUnit": {"USD": f"{self.usd_per_hour * 0.6:.10f}"},
                    }
                },
                "sku": self.sku,
                "effectiveDate": "2026-01-01T00:00:00Z",
                "offerTermCode": RESERVED_OFFER,
                "termAttributes": {
                    "LeaseContractLength": "1yr",
                    "OfferingClass": "standard",
                    "PurchaseOption": "No Upfront",
                },
            }
        }


class PriceList:
    """The emulated Price List: a catalog of EC2 Linux, SageMaker and Fargate on-demand prices,
    and the quota."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._products: list[_Product] = []
        self._lock = threading.Lock()
        self._tokens = BUCKET_SIZE
        self._refilled_at: float | None = None
        self.fail_with: tuple[int, str, str] | None = None  # (status, code, message) for every call
        self.calls = 0
        self._skus = 0

    def set_price(
        self, instance_type: str, region: str, usd_per_hour: float, tenancy: str = "Shared"
    ) -> None:
        """List `instance_type` in `region` (Linux, no pre-installed software, capacity Used)."""
        attributes = {
            "instanceType": instance_type,
            "regionCode": region,
            "location": LOCATIONS.get(region, region),
            "locationType": "AWS Region",
            "tenancy": tenancy,
            "operatingSystem": "Linux",
            "preInstalledSw": "NA",
            "licenseModel": "No License required",
            "capacitystatus": "Used",
            "operation": "RunInstances",
            "servicecode": "AmazonEC2",
            "marketoption": "OnDemand",
        }
        self._add(_Product("", attributes, usd_per_hour))

    def set_sagemaker_price(
        self, instance_type: str, region: str, component: str, usd_per_hour: float
    ) -> None:
        """List SageMaker's `instance_type` (ml.*) in `region` for `component`, SageMaker's
        platoinstancetype ("Notebook", "Hosting", "Training", ...)."""
        usage = SAGEMAKER_USAGE.get(component, component)
        attributes = {
            "instanceName": instance_type,
            "instanceType": instance_type,
            "regionCode": region,
            "location": LOCATIONS.get(region, region),
            "locationType": "AWS Region",
            "platoinstancetype": component,
            "usagetype": f"{USAGE_PREFIXES.get(region, region)}-{usage}:{instance_type}",
            "operation": "RunInstance",
            "servicecode": SAGEMAKER,
            "servicename": "Amazon SageMaker",
        }
        self._add(_Product("", attributes, usd_per_hour, SAGEMAKER))

    def set_fargate_price(
        self, region: str, usd_per_vcpu_hour: float, usd_per_gb_hour: float
    ) -> None:
        """List Fargate's Linux/x86 on-demand rates in `region`, and beside them its ARM rates
        (80 %) and Spot rates (30 %), as a region lists them all."""
        prefix = USAGE_PREFIXES.get(region, region)
        rates = {
            "Fargate-vCPU-Hours:perCPU": usd_per_vcpu_hour,
            "Fargate-GB-Hours": usd_per_gb_hour,
            "Fargate-ARM-vCPU-Hours:perCPU": usd_per_vcpu_hour * 0.8,
            "Fargate-ARM-GB-Hours": usd_per_gb_hour * 0.8,
            "SpotUsage:Fargate-vCPU-Hours:perCPU": usd_per_vcpu_hour * 0.3,
            "SpotUsage:Fargate-GB-Hours": usd_per_gb_hour * 0.3,
        }
        for usage, usd in rates.items():
            attributes = {
                "usagetype": f"{prefix}-{usage}",
                "regionCode": region,
                "location": LOCATIONS.get(region, region),
                "locationType": "AWS Region",
                "operation": "",
                "servicecode": ECS,
                "servicename": "Amazon Elastic Container Service",
            }
            self._add(_Product("", attributes, usd, ECS))

    def _add(self, product: _Product) -> None:
        """Put `product` in the catalog with a fresh SKU, in place of one with its key."""
        with self._lock:
            self._skus += 1
            sku = f"EMU{self._skus:011d}"
            self._products = [p for p in self._products if p.key != product.key]
            self._products.append(replace(product, sku=sku))

    def answer(self, target: str, body: bytes | str | None) -> tuple[int, dict[str, str], str]:
        """One HTTP request to a Price List endpoint: (status, headers, body)."""
        with self._lock:
            self.calls += 1
        if not target.endswith(".GetProducts"):
            return _error(400, "UnknownOperationException", f"{target} is not emulated")
        if self.fail_with is not None:
            return _error(*self.fail_with)
        if not self._take_token():
            return _error(400, "ThrottlingException", "Rate exceeded")
        try:
            request = json.loads(body or "{}")
            matches = self._select(request)
        except _BadParameterError as invalid:
            return _error(400, "InvalidParameterException", str(invalid))
        start = int(request.get("NextToken") or 0)
        size = int(request.get("MaxResults") or 100)
        page = matches[start : start + size]
        response: dict[str, Any] = {
            "FormatVersion": "aws_v1",
            "PriceList": [product.to_json() for product in page],
        }
        if start + size < len(matches):
            response["NextToken"] = str(start + size)
        return 200, {"Content-Type": "application/x-amz-json-1.1"}, json.dumps(response)

    def _take_token(self) -> bool:
        with self._lock:
            now = self.clock()
            if self._refilled_at is not None:
                elapsed = max(0.0, now - self._refilled_at)
                self._tokens = min(BUCKET_SIZE, self._tokens + elapsed * REFILL_PER_S)
            self._refilled_at = now
            if self._tokens < 1:
                return False
            self._tokens -= 1
            return True

    def _select(self, request: dict[str, Any]) -> list[_Product]:
        code = request.get("ServiceCode")
        size = request.get("MaxResults", 100)
        if not isinstance(size, int) or not 1 <= size <= 100:
            raise _BadParameterError("MaxResults must be between 1 and 100")
        tests = [_filter_test(f) for f in request.get("Filters", [])]
        with self._lock:
            products = list(self._products)
        return [
            p for p in products if p.service_code == code and all(test(p.fields) for test in tests)
        ]


class _BadParameterError(ValueError):
    pass


def _filter_test(spec: dict[str, Any]) -> Callable[[dict[str, str]], bool]:
    kind, field, value = spec.get("Type"), spec.get("Field"), spec.get("Value")
    if kind not in FILTER_TYPES:
        raise _BadParameterError(f"Invalid filter type {kind}; valid: {', '.join(FILTER_TYPES)}")
    if not isinstance(field, str) or not isinstance(value, str) or not 1 <= len(value) <= 1024:
        raise _BadParameterError("Filter Field and Value must be strings of 1 to 1024 characters")
    values = {part.strip() for part in value.split(",")}

    def test(attributes: dict[str, str]) -> bool:
        found = attributes.get(field)
        if kind in ("TERM_MATCH", "EQUALS"):
            return found == value
        if kind == "CONTAINS":
            return found is not None and value in found
        if kind == "ANY_OF":
            return found in values
        return found not in values  # NONE_OF

    return test


def _error(status: int, code: str, message: str) -> tuple[int, dict[str, str], str]:
    body = json.dumps({"__type": code, "Message": message})
    return status, {"Content-Type": "application/x-amz-json-1.1"}, body


_ORIGINAL_PROCESS_REQUEST = BotocoreStubber.process_request


def install(patches: Patches) -> None:
    patches.set(BotocoreStubber, "process_request", _stubber_process_request)


def _stubber_process_request(self: BotocoreStubber, request: Any) -> Any:
    """In-process (mock_aws) requests to a Price List endpoint go to the layer's catalog."""
    layer = current()
    if layer is not None and is_price_list_url(str(request.url)):
        target = request.headers.get("X-Amz-Target", "")
        target = target.decode() if isinstance(target, bytes) else str(target)
        return layer.prices.answer(target, request.body)
    return _ORIGINAL_PROCESS_REQUEST(self, request)
